// Package spool holds bytes that one side produces and another consumes
// later: in pooled memory chunks up to a limit, then in one temporary file.
// The gateway core uses a Buffer to keep the rest of a request body while the
// app answers; the FastCGI front end uses a Pipe for each request's input
// streams, so that its connection's read loop never waits for a handler.
package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// Defaults of a Config.
const (
	DefaultMemory = 1 << 20 // bytes held in memory before the temporary file
	chunkSize     = 32 << 10
)

// ErrTooLarge is the error of a write that would take a Buffer past its
// Config.MaxBytes.
var ErrTooLarge = errors.New("spool: over the size limit")

// chunks holds the memory chunks of every Buffer. A sync.Pool gives idle
// chunks back to the garbage collector, so a burst leaves no memory behind.
var chunks = sync.Pool{New: func() any { return new([chunkSize]byte) }}

// A Budget bounds the bytes that all the Buffers sharing it hold at once,
// in memory and on disk. It is safe for concurrent use.
type Budget struct {
	Memory, Disk int64 // 0: no limit
	mem, disk    atomic.Int64
}

// take counts n more bytes of memory (disk false) or disk; false when that
// would pass the limit. A nil Budget has no limits.
func (b *Budget) take(n int64, disk bool) bool {
	if b == nil || n == 0 {
		return true
	}
	used, limit := &b.mem, b.Memory
	if disk {
		used, limit = &b.disk, b.Disk
	}
	if used.Add(n) > limit && limit > 0 {
		used.Add(-n)
		return false
	}
	return true
}

// give returns n bytes of memory or disk.
func (b *Budget) give(n int64, disk bool) {
	if b == nil || n == 0 {
		return
	}
	if disk {
		b.disk.Add(-n)
	} else {
		b.mem.Add(-n)
	}
}

// InUse returns the bytes held in memory and on disk.
func (b *Budget) InUse() (memory, disk int64) {
	return b.mem.Load(), b.disk.Load()
}

// Config says where a Buffer keeps its bytes.
type Config struct {
	// Memory is how many bytes are held in memory before the rest goes to
	// a temporary file; 0 means DefaultMemory, a negative value none.
	Memory int64
	// TempDir is where the temporary file is made; "" means os.TempDir().
	TempDir string
	// Prefix starts the temporary file's name; "" means "cgiref-spool-".
	Prefix string
	// MaxBytes limits the bytes held at once, in memory and on disk; a
	// write past it fails with ErrTooLarge. 0 means no limit.
	MaxBytes int64
	// Budget, when not nil, is shared with other Buffers: past its memory
	// the bytes go to the file; past its disk a write fails with
	// ErrTooLarge.
	Budget *Budget
}

func (c Config) memory() int64 {
	switch {
	case c.Memory == 0:
		return DefaultMemory
	case c.Memory < 0:
		return 0
	}
	return c.Memory
}

func (c Config) prefix() string {
	if c.Prefix == "" {
		return "cgiref-spool-"
	}
	return c.Prefix
}

// A Buffer is a byte FIFO: writes append, reads consume. Bytes stay in
// memory chunks while the file is empty and memory has room, and go to the
// file otherwise; once the reader has caught up with the file it is reused
// from its start. A Buffer is not safe for concurrent use; Pipe is.
type Buffer struct {
	cfg     Config
	mem     []*[chunkSize]byte // unread bytes start at mem[0][r:] and end at mem[last][:w]
	r, w    int
	memLen  int64
	file    *os.File // unread bytes are [fr, fw)
	fr, fw  int64
	spilled int64 // bytes ever written to the file
}

// NewBuffer returns an empty Buffer.
func NewBuffer(cfg Config) *Buffer {
	b := new(Buffer)
	b.Init(cfg)
	return b
}

// Init prepares a Buffer that is part of a larger struct.
func (b *Buffer) Init(cfg Config) { *b = Buffer{cfg: cfg} }

// Len returns how many unread bytes the buffer holds.
func (b *Buffer) Len() int64 { return b.memLen + b.fw - b.fr }

// OnDisk returns how many of them are in the temporary file.
func (b *Buffer) OnDisk() int64 { return b.fw - b.fr }

// Write appends p. It fails only when the file cannot be written or
// MaxBytes would be passed; then nothing of p is kept.
func (b *Buffer) Write(p []byte) (int, error) {
	if b.cfg.MaxBytes > 0 && b.Len()+int64(len(p)) > b.cfg.MaxBytes {
		return 0, ErrTooLarge
	}
	n := int64(len(p))
	if b.fr == b.fw && b.memLen+n <= b.cfg.memory() && b.cfg.Budget.take(n, false) {
		b.appendMem(p)
		return len(p), nil
	}
	if !b.cfg.Budget.take(n, true) {
		return 0, ErrTooLarge
	}
	if err := b.appendFile(p); err != nil {
		b.cfg.Budget.give(n, true)
		return 0, err
	}
	return len(p), nil
}

func (b *Buffer) appendMem(p []byte) {
	b.memLen += int64(len(p))
	for len(p) > 0 {
		if len(b.mem) == 0 || b.w == chunkSize {
			b.mem = append(b.mem, chunks.Get().(*[chunkSize]byte))
			b.w = 0
		}
		n := copy(b.mem[len(b.mem)-1][b.w:], p)
		b.w += n
		p = p[n:]
	}
}

func (b *Buffer) appendFile(p []byte) error {
	if b.file == nil {
		f, err := os.CreateTemp(b.cfg.TempDir, b.cfg.prefix())
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		b.file = f
	}
	n, err := b.file.WriteAt(p, b.fw)
	if err != nil {
		return fmt.Errorf("spool: writing %s: %w", b.file.Name(), err)
	}
	b.fw += int64(n)
	b.spilled += int64(n)
	return nil
}

// Spilled returns how many bytes have ever gone to the temporary file.
func (b *Buffer) Spilled() int64 { return b.spilled }

// Read reads unread bytes; it returns 0, io.EOF when there are none.
func (b *Buffer) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.memLen > 0 {
		return b.readMem(p), nil
	}
	if b.fr < b.fw {
		return b.readFile(p)
	}
	return 0, io.EOF
}

func (b *Buffer) readMem(p []byte) int {
	end := chunkSize
	if len(b.mem) == 1 {
		end = b.w
	}
	n := copy(p, b.mem[0][b.r:end])
	b.r += n
	b.memLen -= int64(n)
	b.cfg.Budget.give(int64(n), false)
	if b.r == end {
		b.r = 0
		if len(b.mem) == 1 {
			b.w = 0 // the only chunk: reuse it from its start
		} else {
			chunks.Put(b.mem[0])
			b.mem[0] = nil
			b.mem = b.mem[1:]
		}
	}
	return n
}

func (b *Buffer) readFile(p []byte) (int, error) {
	n, err := b.file.ReadAt(p[:min(int64(len(p)), b.fw-b.fr)], b.fr)
	b.fr += int64(n)
	b.cfg.Budget.give(int64(n), true)
	if b.fr == b.fw {
		b.fr, b.fw = 0, 0 // caught up: the file is reused from its start
	}
	if n > 0 {
		return n, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return 0, fmt.Errorf("spool: reading %s: %w", b.file.Name(), err)
}

// Close drops the unread bytes, gives the memory back and removes the
// temporary file. The Buffer is empty and usable afterwards.
func (b *Buffer) Close() error {
	b.cfg.Budget.give(b.memLen, false)
	b.cfg.Budget.give(b.fw-b.fr, true)
	for i, c := range b.mem {
		chunks.Put(c)
		b.mem[i] = nil
	}
	b.mem, b.r, b.w, b.memLen = nil, 0, 0, 0
	b.fr, b.fw = 0, 0
	if b.file == nil {
		return nil
	}
	name := b.file.Name()
	err := errors.Join(b.file.Close(), os.Remove(name))
	b.file = nil
	return err
}
