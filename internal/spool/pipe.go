package spool

import (
	"io"
	"os"
	"sync"
	"time"
)

// A Pipe is a Buffer between two goroutines: the writer never waits for
// the reader, and the reader waits for bytes, the end of the stream or an
// error. The FastCGI front end fills one per input stream from its
// connection's read loop, so that a handler that reads slowly, or not at all,
// never holds up the other requests of the connection.
type Pipe struct {
	mu   sync.Mutex
	cond sync.Cond
	buf  Buffer
	eof  bool  // the writer closed the stream
	err  error // sticky: fails every later read (an abort, a spool failure)

	deadline time.Time   // reads waiting past it fail; zero: none
	timer    *time.Timer // wakes the readers at the deadline
}

// NewPipe returns an empty Pipe.
func NewPipe(cfg Config) *Pipe {
	p := new(Pipe)
	p.Init(cfg)
	return p
}

// Init prepares a Pipe that is part of a larger struct.
func (p *Pipe) Init(cfg Config) {
	p.buf.Init(cfg)
	p.cond.L = &p.mu
	p.eof, p.err, p.deadline, p.timer = false, nil, time.Time{}, nil
}

// Write appends b without waiting for the reader. Bytes written after the
// stream ended or failed are dropped. A spooling error fails the stream
// for the reader and is returned.
func (p *Pipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil || p.eof {
		return len(b), nil
	}
	if _, err := p.buf.Write(b); err != nil {
		p.err = err
		p.cond.Broadcast()
		return 0, err
	}
	p.cond.Broadcast()
	return len(b), nil
}

// CloseWithError ends the stream. A nil err is the end of the stream: the
// reader gets io.EOF once it has read everything. Any other error fails
// every later read at once; the first error sticks.
func (p *Pipe) CloseWithError(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		p.eof = true
	} else if p.err == nil {
		p.err = err
	}
	p.cond.Broadcast()
}

// Read reads the stream, waiting while nothing is buffered.
func (p *Pipe) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if p.err != nil {
			return 0, p.err
		}
		if p.buf.Len() > 0 {
			n, err := p.buf.Read(b)
			if err != nil {
				p.err = err
			}
			return n, err
		}
		if p.eof {
			return 0, io.EOF
		}
		if !p.deadline.IsZero() && !time.Now().Before(p.deadline) {
			return 0, os.ErrDeadlineExceeded
		}
		p.cond.Wait()
	}
}

// SetReadDeadline makes reads that wait for bytes past t fail with
// os.ErrDeadlineExceeded, as net.Conn's does; a zero t means no deadline.
func (p *Pipe) SetReadDeadline(t time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deadline = t
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	if !t.IsZero() {
		p.timer = time.AfterFunc(time.Until(t), p.wake)
	}
	p.cond.Broadcast()
	return nil
}

// wake lets waiting readers look at the deadline.
func (p *Pipe) wake() {
	p.mu.Lock()
	p.cond.Broadcast()
	p.mu.Unlock()
}

// WaitClosed waits until the writer has ended the stream or it failed,
// without reading it, and returns the failure, if any.
func (p *Pipe) WaitClosed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for !p.eof && p.err == nil {
		p.cond.Wait()
	}
	return p.err
}

// Buffered returns how many bytes wait for the reader, and how many of
// them are on disk.
func (p *Pipe) Buffered() (total, onDisk int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.Len(), p.buf.OnDisk()
}

// Spilled returns how many bytes have ever gone to the temporary file.
func (p *Pipe) Spilled() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.Spilled()
}

// Release fails later reads with io.ErrClosedPipe, frees the memory and
// removes the temporary file.
func (p *Pipe) Release() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = io.ErrClosedPipe
	}
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.cond.Broadcast()
	return p.buf.Close()
}
