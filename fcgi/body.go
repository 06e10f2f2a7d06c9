package fcgi

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// body is one input stream of a request (STDIN or DATA), filled by the
// connection's read loop and read by the handler.
//
// The read loop never waits for a handler: a request whose handler reads
// slowly, or not at all, must not hold up the other requests multiplexed on
// the same connection. So the bytes a handler has not read yet are kept in
// memory up to a bound and past it in a temporary file, which is emptied and
// reused once the handler has caught up. A handler that never reads its body
// costs disk space, not a stalled connection; the gateway drains such a body
// itself when the response goes out, and the file is removed when the
// request ends.
type body struct {
	mu      sync.Mutex
	cond    sync.Cond
	chunks  []*[]byte // pooled buffers; unread bytes start at (*chunks[0])[r:]
	r       int
	memLen  int // unread bytes in chunks
	memMax  int
	pool    *sync.Pool // where chunks come from and go back to
	file    *os.File   // spill file; unread bytes are [fr, fw)
	fr, fw  int64
	tempDir string
	eof     bool  // the stream's empty record arrived
	err     error // sticky: abort, closed connection, spill failure
}

func newBody(memMax int, pool *sync.Pool, tempDir string) *body {
	b := new(body)
	b.init(memMax, pool, tempDir)
	return b
}

// init prepares a body that is part of a larger struct.
func (b *body) init(memMax int, pool *sync.Pool, tempDir string) {
	b.memMax, b.pool, b.tempDir = memMax, pool, tempDir
	b.cond.L = &b.mu
}

// write appends p to the stream. It never blocks on the reader. An error
// (the spill file could not be written) fails the stream.
func (b *body) write(p []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil || b.eof {
		return nil // the handler is gone or the stream ended: drop
	}
	if b.fr == b.fw && b.memLen+len(p) <= b.memMax {
		b.appendMem(p)
	} else if err := b.spill(p); err != nil {
		b.err = fmt.Errorf("fcgi: spooling request body: %w", err)
		b.cond.Broadcast()
		return b.err
	}
	b.cond.Broadcast()
	return nil
}

func (b *body) appendMem(p []byte) {
	b.memLen += len(p)
	for len(p) > 0 {
		var last *[]byte
		if n := len(b.chunks); n > 0 && len(*b.chunks[n-1]) < cap(*b.chunks[n-1]) {
			last = b.chunks[n-1]
		} else {
			last = b.pool.Get().(*[]byte)
			*last = (*last)[:0]
			b.chunks = append(b.chunks, last)
		}
		k := copy((*last)[len(*last):cap(*last)], p)
		*last = (*last)[:len(*last)+k]
		p = p[k:]
	}
}

// readMem reads from the chunks, returning each one to the pool once read.
func (b *body) readMem(p []byte) int {
	first := b.chunks[0]
	n := copy(p, (*first)[b.r:])
	b.r += n
	b.memLen -= n
	if b.r == len(*first) {
		b.r = 0
		if len(b.chunks) == 1 {
			*first = (*first)[:0] // the only chunk: reuse it
		} else {
			b.pool.Put(first)
			copy(b.chunks, b.chunks[1:])
			b.chunks[len(b.chunks)-1] = nil
			b.chunks = b.chunks[:len(b.chunks)-1]
		}
	}
	return n
}

func (b *body) spill(p []byte) error {
	if b.file == nil {
		f, err := os.CreateTemp(b.tempDir, "cgiref-fcgi-body-")
		if err != nil {
			return err
		}
		b.file = f
	}
	n, err := b.file.WriteAt(p, b.fw)
	b.fw += int64(n)
	return err
}

// close ends the stream: a nil err is the end of the stream (io.EOF for
// the reader once it has read everything), anything else fails every later
// read at once.
func (b *body) close(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		b.eof = true
	} else if b.err == nil {
		b.err = err
	}
	b.cond.Broadcast()
}

// Read reads the stream, waiting for the read loop when nothing is buffered.
func (b *body) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		if b.err != nil {
			return 0, b.err
		}
		if b.memLen > 0 {
			return b.readMem(p), nil
		}
		if b.fr < b.fw {
			n, err := b.file.ReadAt(p[:min(int64(len(p)), b.fw-b.fr)], b.fr)
			b.fr += int64(n)
			if b.fr == b.fw {
				b.fr, b.fw = 0, 0 // caught up: the file is reused from its start
			}
			if n > 0 {
				return n, nil
			}
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			b.err = fmt.Errorf("fcgi: reading spooled request body: %w", err)
			return 0, b.err
		}
		if b.eof {
			return 0, io.EOF
		}
		b.cond.Wait()
	}
}

// release frees the memory buffer and removes the spill file. The body must
// not be used afterwards.
func (b *body) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil {
		b.err = io.ErrClosedPipe
	}
	for i, c := range b.chunks {
		b.pool.Put(c)
		b.chunks[i] = nil
	}
	b.chunks, b.memLen, b.r = nil, 0, 0
	if b.file != nil {
		name := b.file.Name()
		b.file.Close()
		os.Remove(name)
		b.file = nil
	}
}
