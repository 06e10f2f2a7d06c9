package gateway

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// bufferSize is how much body the response holds before it commits its
// header: an app that writes less and returns gets an exact Content-Length.
const bufferSize = 4096

// ErrShortBody is wrapped by Run's error when the handler wrote fewer body
// bytes than the Content-Length it declared: the answer is cut short.
var ErrShortBody = errors.New("gateway: body shorter than its Content-Length")

var (
	errAfterReturn = errors.New("gateway: Write after the handler returned")
	bufPool        = sync.Pool{New: func() any { b := make([]byte, 0, 2*bufferSize); return &b }}
)

// response is the http.ResponseWriter the app sees. Its methods are safe for
// concurrent use; after the handler returns they only report an error.
type response struct {
	mu   sync.Mutex
	h    *Handler
	req  *http.Request
	out  *output
	body *reqBody
	errs io.Writer

	header     http.Header
	status     int   // 0 until WriteHeader (or the first Write)
	declared   int64 // the Content-Length the app set; -1 when none
	written    int64 // body bytes the app wrote
	buf        *[]byte
	failed     error     // an app error answered with the error page
	autoValues [2]string // the automatic Content-Length and Content-Type

	// The flags, together so that they take one word.
	committed bool // the header went out
	done      bool // the handler returned
	reported  bool // a stdout error was logged
	didPanic  bool // the app panicked
	errorPage bool // the error answer went out
	isHead    bool
}

// init prepares w to answer req.
func (w *response) init(h *Handler, req *http.Request, out *output, body *reqBody, errs io.Writer) {
	w.h, w.req, w.out, w.body, w.errs = h, req, out, body, errs
	w.header = make(http.Header)
	w.declared = -1
	w.buf = bufPool.Get().(*[]byte)
	w.isHead = req.Method == http.MethodHead
}

// release returns the response's buffer; later calls fail with errAfterReturn.
func (w *response) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	if w.buf != nil {
		*w.buf = (*w.buf)[:0]
		bufPool.Put(w.buf)
		w.buf = nil
	}
}

// Header returns the header map the answer is written from.
func (w *response) Header() http.Header { return w.header }

// WriteHeader sets the status. 1xx codes other than 101 are interim answers,
// which a gateway does not send; later calls are logged and ignored.
func (w *response) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("gateway: invalid WriteHeader code %v", code))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writeHeader(code)
}

func (w *response) writeHeader(code int) {
	if w.done || w.failed != nil {
		return
	}
	if w.status != 0 {
		w.logf("gateway: superfluous WriteHeader(%d) for %s %s", code, w.req.Method, w.req.URL.Path)
		return
	}
	if code == http.StatusSwitchingProtocols {
		// Nothing can be hijacked through a gateway: a relayed 101 would
		// leave the client waiting for a protocol that never starts.
		w.fail(fmt.Errorf("gateway: %s %s: the handler answered 101 Switching Protocols, which cannot pass through a gateway", w.req.Method, w.req.URL.Path))
		return
	}
	if code < 200 {
		return
	}
	w.status = code
	if cl := w.header.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			w.declared = n
		} else {
			w.logf("gateway: %s %s: dropped the invalid Content-Length %q", w.req.Method, w.req.URL.Path, cl)
			w.header.Del("Content-Length")
		}
	}
}

// fail answers an app error with the error answer, which the app's later
// calls cannot change; the answer must not have begun.
func (w *response) fail(err error) {
	w.logf("%v", err)
	w.failed = err
	w.writeErrorAnswer()
}

// Write writes body bytes: buffered until the header commits, then straight
// to the front end's stdout.
func (w *response) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.write(p)
}

// WriteString is Write for a string, as io.StringWriter.
func (w *response) WriteString(s string) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.checkWrite(len(s)); err != nil {
		return 0, err
	}
	if !w.committed && len(*w.buf)+len(s) <= bufferSize {
		*w.buf = append(*w.buf, s...)
		return len(s), nil
	}
	return w.writeChecked([]byte(s))
}

// usable reports whether the app may still write or flush, and sets the
// default status 200 when the app set none.
func (w *response) usable() error {
	if w.failed == http.ErrHandlerTimeout {
		return w.failed
	}
	if w.done {
		return errAfterReturn
	}
	if w.failed != nil {
		return w.failed
	}
	if w.status == 0 {
		w.writeHeader(http.StatusOK)
	}
	return nil
}

// checkWrite does the checks every body write shares and counts the bytes.
func (w *response) checkWrite(n int) error {
	if err := w.usable(); err != nil {
		return err
	}
	if !bodyAllowed(w.status) {
		return http.ErrBodyNotAllowed
	}
	if w.declared >= 0 && w.written+int64(n) > w.declared {
		return http.ErrContentLength
	}
	w.written += int64(n)
	return nil
}

func (w *response) write(p []byte) (int, error) {
	if err := w.checkWrite(len(p)); err != nil {
		return 0, err
	}
	return w.writeChecked(p)
}

// writeChecked writes body bytes that passed checkWrite.
func (w *response) writeChecked(p []byte) (int, error) {
	if !w.committed {
		if len(*w.buf)+len(p) <= bufferSize {
			*w.buf = append(*w.buf, p...)
			return len(p), nil
		}
		if err := w.commit(false, p); err != nil {
			return 0, err
		}
	}
	if w.isHead {
		return len(p), nil
	}
	n, err := w.out.Write(p)
	if err != nil {
		return n, w.writeFailed(err)
	}
	return n, nil
}

// Flush sends the header and whatever body is buffered, as http.Flusher.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError is Flush reporting the error, as http.ResponseController uses it.
func (w *response) FlushError() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	if !w.committed {
		if err := w.commit(false, nil); err != nil {
			return err
		}
	}
	return w.out.flush()
}

// ReadFrom copies src into the body, as io.ReaderFrom.
func (w *response) ReadFrom(src io.Reader) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := (*bp)[:cap(*bp)]
	var total int64
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// finish completes the answer after the handler returned normally.
func (w *response) finish() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed != nil {
		return w.out.end() // the error answer is whole
	}
	if w.status == 0 {
		w.writeHeader(http.StatusOK)
	}
	if !w.committed {
		if err := w.commit(true, nil); err != nil {
			if w.failed != nil {
				return w.out.end() // the error answer is whole
			}
			return err
		}
	}
	if w.declared >= 0 && w.written < w.declared && !w.isHead {
		err := fmt.Errorf("gateway: %s %s: the handler wrote %d of the %d bytes its Content-Length declared: %w",
			w.req.Method, w.req.URL.Path, w.written, w.declared, ErrShortBody)
		w.logf("%v", err)
		_ = w.out.flush()
		return err
	}
	if err := w.out.end(); err != nil {
		return w.writeFailed(err)
	}
	return nil
}

// writeFailed logs a stdout error unless the client is simply gone.
func (w *response) writeFailed(err error) error {
	if !IsClientGone(err) && !w.reported {
		w.reported = true
		w.logf("gateway: writing the answer to %s %s: %v", w.req.Method, w.req.URL.Path, err)
	}
	return err
}

func (w *response) logf(format string, args ...any) {
	fmt.Fprintf(w.errs, format+"\n", args...)
}

// bodyAllowed reports whether a status may have a body (not 1xx, 204, 304).
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// SetReadDeadline bounds the app's body reads when the front end's stdin
// can (http.ResponseController).
func (w *response) SetReadDeadline(t time.Time) error {
	if d, ok := w.body.src.(ReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return http.ErrNotSupported
}

// SetWriteDeadline bounds the answer's writes when the front end's stdout
// can (http.ResponseController).
func (w *response) SetWriteDeadline(t time.Time) error {
	if d, ok := w.out.w.(WriteDeadliner); ok {
		return d.SetWriteDeadline(t)
	}
	return http.ErrNotSupported
}

// EnableFullDuplex lets the app write its answer while it still reads the
// body, where the front end's stdin never blocks the web server and its
// stdout does not refuse (http.ResponseController). The answer then goes out
// without waiting for the whole body, and the app must know that its web
// server keeps sending the body once the answer began (nginx does so only
// with request buffering off).
func (w *response) EnableFullDuplex() error {
	if d, ok := w.out.w.(FullDuplexer); ok {
		if err := d.EnableFullDuplex(); err != nil {
			return err
		}
	}
	if !w.body.enableFullDuplex() {
		return http.ErrNotSupported
	}
	return nil
}

// result reports what the answer was.
func (w *response) result(timedOut bool) Result {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := Result{Status: w.status, BodyBytes: w.written, Panicked: w.didPanic, TimedOut: timedOut}
	switch {
	case timedOut && w.failed == http.ErrHandlerTimeout && w.status == 0:
		r.Status = http.StatusServiceUnavailable
	case w.failed != nil && w.errorPage:
		r.Status = w.h.errorStatus()
	}
	return r
}
