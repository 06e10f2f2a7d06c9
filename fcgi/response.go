package fcgi

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// outBufSize holds the largest STDOUT record this package writes plus the
// records that end a request: padding, an empty STDOUT, an empty STDERR and
// END_REQUEST.
const outBufSize = headerLen + maxWrite + 8 + headerLen + headerLen + endRequestLen

var outBufPool = sync.Pool{New: func() any { b := make([]byte, 0, outBufSize); return &b }}

// stdout is a request's FCGI_STDOUT stream, the gateway's Stdout. It
// coalesces writes into records of up to maxWrite bytes; Flush sends what is
// buffered. It is an AnswerEnder: once the answer is complete its tail goes
// out with the end of the stream and END_REQUEST, in one write.
type stdout struct {
	req      *request
	bufp     *[]byte
	buf      []byte // a record header's room, then the buffered content
	ended    bool   // EndAnswer was called: the tail waits for closeRequest
	deadline time.Time
}

func (w *stdout) init(req *request) {
	w.req = req
	w.bufp = outBufPool.Get().(*[]byte)
	w.buf = append((*w.bufp)[:0], zeros[:headerLen]...)
	w.ended = false
}

// Write buffers p, sending full records as the buffer fills.
func (w *stdout) Write(p []byte) (int, error) {
	if err := w.req.writeErr(); err != nil {
		return 0, err
	}
	n := 0
	for len(p) > 0 {
		k := copy(w.buf[len(w.buf):headerLen+maxWrite], p)
		w.buf = w.buf[:len(w.buf)+k]
		n += k
		p = p[k:]
		if len(w.buf) == headerLen+maxWrite {
			if err := w.send(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// writeAnswer buffers an answer the server makes itself: status, and body
// as plain text ("": the status line).
func (w *stdout) writeAnswer(status int, body string) {
	text := http.StatusText(status)
	if body == "" {
		body = fmt.Sprintf("%d %s\n", status, text)
	}
	fmt.Fprintf(w, "Status: %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s",
		status, text, len(body), body)
}

// Flush sends the buffered bytes as a STDOUT record.
func (w *stdout) Flush() error {
	if err := w.req.writeErr(); err != nil {
		return err
	}
	if w.ended || len(w.buf) == headerLen {
		return nil
	}
	return w.send()
}

// EndAnswer notes that the answer is complete: closeRequest sends the tail.
func (w *stdout) EndAnswer() error {
	w.ended = true
	return w.req.writeErr()
}

// EnableFullDuplex succeeds: the connection's read loop takes the body
// while the handler writes.
func (w *stdout) EnableFullDuplex() error { return nil }

// SetWriteDeadline bounds this request's writes to the connection; a write
// that times out breaks the connection (it is shared by the records of
// every request on it).
func (w *stdout) SetWriteDeadline(t time.Time) error {
	w.deadline = t
	return nil
}

// send writes the buffered content as one record.
func (w *stdout) send() error {
	w.seal()
	c := w.req.c
	c.wmu.Lock()
	err := c.writeLocked(w.buf, w.deadline)
	c.wmu.Unlock()
	w.buf = w.buf[:headerLen]
	if err != nil {
		return w.req.writeFailed(err)
	}
	return nil
}

// seal fills in the header of the buffered record and pads it.
func (w *stdout) seal() {
	n := len(w.buf) - headerLen
	_, pad := appendHeader(w.buf[:0], typeStdout, w.req.id, n)
	w.buf = append(w.buf, zeros[:pad]...)
}

// tail returns the buffered record, sealed, for the end of the request; an
// empty buffer gives an empty slice to append to.
func (w *stdout) tail() []byte {
	if w.buf == nil {
		return nil
	}
	if len(w.buf) > headerLen {
		w.seal()
		return w.buf
	}
	return w.buf[:0]
}

// release returns the buffer to its pool.
func (w *stdout) release() {
	if w.bufp != nil {
		*w.bufp = w.buf[:0]
		outBufPool.Put(w.bufp)
		w.bufp, w.buf = nil, nil
	}
}

// stderr is a request's FCGI_STDERR stream: each write becomes records at
// once, so that the application's log lines reach the web server's error log
// as they are written.
type stderr struct {
	req  *request
	used atomic.Bool
}

func (w *stderr) Write(p []byte) (int, error) {
	if err := w.req.writeErr(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	w.used.Store(true)
	if err := w.req.c.writeStream(typeStderr, w.req.id, p, w.req.deadline()); err != nil {
		return 0, w.req.writeFailed(err)
	}
	return len(p), nil
}
