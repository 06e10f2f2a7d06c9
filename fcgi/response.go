package fcgi

import (
	"sync"
	"sync/atomic"
)

// outBufSize holds the largest STDOUT record this package writes plus the
// records that end a request: padding, an empty STDOUT, an empty STDERR and
// END_REQUEST.
const outBufSize = headerLen + maxWrite + 8 + headerLen + headerLen + endRequestLen

var outBufPool = sync.Pool{New: func() any { b := make([]byte, 0, outBufSize); return &b }}

// stdout is a request's FCGI_STDOUT stream. It coalesces writes into
// records of up to maxWrite bytes; Flush sends what is buffered. Once the
// application has returned, Flush keeps the data so that the last record, the
// empty STDOUT that ends the stream and END_REQUEST go out in one write.
type stdout struct {
	req     *request
	bufp    *[]byte
	buf     []byte // a record header's room, then the buffered content
	appDone bool   // the application returned: Flush waits for finish
}

func (w *stdout) init(req *request) {
	w.req = req
	w.bufp = outBufPool.Get().(*[]byte)
	w.buf = append((*w.bufp)[:0], zeros[:headerLen]...)
	w.appDone = false
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

// Flush sends the buffered bytes as a STDOUT record, unless the application
// has returned (the end of the request sends them).
func (w *stdout) Flush() error {
	if err := w.req.writeErr(); err != nil {
		return err
	}
	if w.appDone || len(w.buf) == headerLen {
		return nil
	}
	return w.send()
}

// send writes the buffered content as one record.
func (w *stdout) send() error {
	w.seal()
	err := w.req.c.write(w.buf)
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

// finish sends the rest of the stream, its end, the end of STDERR when it was
// used, and END_REQUEST, in one write.
func (w *stdout) finish(appStatus uint32, endStderr bool) error {
	var b []byte
	if len(w.buf) > headerLen {
		w.seal()
		b = w.buf
	} else {
		b = w.buf[:0]
	}
	b, _ = appendHeader(b, typeStdout, w.req.id, 0)
	if endStderr {
		b, _ = appendHeader(b, typeStderr, w.req.id, 0)
	}
	b = appendEndRequest(b, w.req.id, appStatus, statusRequestComplete)
	w.buf = b[:headerLen]
	return w.req.c.write(b)
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
	if err := w.req.c.writeStream(typeStderr, w.req.id, p); err != nil {
		return 0, w.req.writeFailed(err)
	}
	return len(p), nil
}
