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
	mem     []byte // unread bytes are mem[r:]
	r       int
	memMax  int
	pool    *sync.Pool // where mem came from and goes back to
	memp    *[]byte    // the pooled slice mem started as
	file    *os.File   // spill file; unread bytes are [fr, fw)
	fr, fw  int64
	tempDir string
	eof     bool  // the stream's empty record arrived
	err     error // sticky: abort, closed connection, spill failure
}

func newBody(memMax int, pool *sync.Pool, tempDir string) *body {
	b := &body{memMax: memMax, pool: pool, tempDir: tempDir}
	b.cond.L = &b.mu
	return b
}

// write appends p to the stream. It never blocks on the reader. An error
// (the spill file could not be written) fails the stream.
func (b *body) write(p []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil || b.eof {
		return nil // the handler is gone or the stream ended: drop
	}
	if b.fr == b.fw && len(b.mem)-b.r+len(p) <= b.memMax {
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
	if b.mem == nil && b.pool != nil {
		if bp, ok := b.pool.Get().(*[]byte); ok {
			b.memp, b.mem = bp, (*bp)[:0]
		}
	}
	if b.r > 0 && b.r == len(b.mem) {
		b.mem, b.r = b.mem[:0], 0
	} else if b.r > 0 && len(b.mem)+len(p) > cap(b.mem) {
		n := copy(b.mem, b.mem[b.r:])
		b.mem, b.r = b.mem[:n], 0
	}
	b.mem = append(b.mem, p...)
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
		if b.r < len(b.mem) {
			n := copy(p, b.mem[b.r:])
			b.r += n
			return n, nil
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
	if b.memp != nil {
		if cap(b.mem) == cap(*b.memp) {
			*b.memp = b.mem[:0]
		}
		b.pool.Put(b.memp)
		b.memp = nil
	}
	b.mem = nil
	if b.file != nil {
		name := b.file.Name()
		b.file.Close()
		os.Remove(name)
		b.file = nil
	}
}
