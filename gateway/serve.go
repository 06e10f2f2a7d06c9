package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"

	"github.com/cgiref/cgiref/headers"
)

// serve calls the app and completes the answer.
func (w *response) serve(app http.Handler) error {
	if p, stack := call(app, w, w.req); p != nil {
		return w.panicked(p, stack)
	}
	return w.finish()
}

// serveWithTimeout serves as serve does, but returns when ctx ends first
// (Handler.Timeout): the answer is then a 503 when it has not begun, and cut
// short when it has. timedOut reports that the app is still running.
func (w *response) serveWithTimeout(app http.Handler, ctx context.Context) (timedOut bool, err error) {
	type result struct {
		p     any
		stack []byte
	}
	done := make(chan result, 1)
	go func() {
		p, stack := call(app, w, w.req)
		done <- result{p, stack}
	}()
	select {
	case r := <-done:
		if r.p != nil {
			return false, w.panicked(r.p, r.stack)
		}
		return false, w.finish()
	case <-ctx.Done():
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.logf("gateway: %s %s: the handler did not return within %v", w.req.Method, w.req.URL.Path, w.h.Timeout)
	if w.committed || w.failed != nil {
		w.failed = http.ErrHandlerTimeout
		_ = w.out.flush()
		return true, fmt.Errorf("gateway: the answer was cut short: %w", http.ErrHandlerTimeout)
	}
	w.committed, w.failed = true, http.ErrHandlerTimeout
	return true, w.h.plainAnswer(w.out, w.isHead, http.StatusServiceUnavailable, "503 Service Unavailable: the handler timed out\n")
}

// tooLarge answers a request whose declared body is over MaxBodyBytes:
// 413, a short plain-text body, and the reason on the error stream. The app
// is not called.
func (h *Handler) tooLarge(out *output, errs io.Writer, r *http.Request) error {
	fmt.Fprintf(errs, "gateway: %s %s: body of %d bytes over the limit of %d\n", r.Method, r.URL.Path, r.ContentLength, h.MaxBodyBytes)
	return h.plainAnswer(out, r.Method == http.MethodHead, http.StatusRequestEntityTooLarge, "413 Request Entity Too Large\n")
}

// call runs the app and returns what it panicked with, and the stack of the
// panic (nil for http.ErrAbortHandler).
func call(app http.Handler, w http.ResponseWriter, r *http.Request) (p any, stack []byte) {
	defer func() {
		if p = recover(); p != nil && p != http.ErrAbortHandler {
			stack = debug.Stack()
		}
	}()
	app.ServeHTTP(w, r)
	return nil, nil
}

// panicked handles an app that panicked with p: before the commit the error
// answer goes out; after it the output stops. http.ErrAbortHandler is not
// logged and leaves the output as it is.
func (w *response) panicked(p any, stack []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p == http.ErrAbortHandler {
		if w.committed && w.failed == nil {
			_ = w.out.flush()
		}
		return http.ErrAbortHandler
	}
	w.didPanic = true
	w.logPanic(p, stack)
	if w.failed != nil {
		return w.out.end() // the error answer went out before the panic
	}
	if !w.committed {
		w.failed = fmt.Errorf("gateway: app panicked: %v", p)
		w.writeErrorAnswer()
		return w.out.end()
	}
	_ = w.out.flush()
	return fmt.Errorf("gateway: app panicked after its answer began: %v", p)
}

// logPanic writes the panic value and up to TracebackLimit stack frames,
// innermost first, to the error stream.
func (w *response) logPanic(p any, stack []byte) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "gateway: panic serving %s %s: %v\n", w.req.Method, w.req.URL.RequestURI(), p)
	if w.h.TracebackLimit >= 0 {
		b.Write(trimStack(stack, w.h.TracebackLimit))
	}
	if rw, ok := w.errs.(RecordWriter); ok {
		_ = rw.WriteRecord(b.Bytes())
		return
	}
	_, _ = w.errs.Write(b.Bytes())
}

// trimStack returns a debug.Stack dump without the frames of the recovery
// itself (everything up to and including the panic call), limited to limit
// frames (0: all).
func trimStack(stack []byte, limit int) []byte {
	lines := bytes.SplitAfter(stack, []byte("\n"))
	if len(lines) == 0 {
		return nil
	}
	head, frames := lines[0], lines[1:]
	for i := 0; i+1 < len(frames); i += 2 {
		if bytes.HasPrefix(frames[i], []byte("panic(")) {
			frames = frames[i+2:]
			break
		}
	}
	if limit > 0 && len(frames) > 2*limit {
		frames = frames[:2*limit]
	}
	return bytes.Join(append([][]byte{head}, frames...), nil)
}

// badRequest answers a request the gateway could not build: 400, a short
// plain-text body, and the reason on the error stream. The app is not called.
func (h *Handler) badRequest(out *output, errs io.Writer, reason error) error {
	fmt.Fprintf(errs, "gateway: bad request: %v\n", reason)
	err := h.plainAnswer(out, h.variable("REQUEST_METHOD") == http.MethodHead, http.StatusBadRequest, "400 Bad Request\n")
	if err != nil && !IsClientGone(err) {
		fmt.Fprintf(errs, "gateway: writing the 400 answer: %v\n", err)
	}
	return err
}

// plainAnswer writes and ends a whole answer the gateway makes itself:
// status and a plain-text body.
func (h *Handler) plainAnswer(out *output, head bool, status int, body string) error {
	hdrs := []headers.Field{{Name: "Content-Type", Value: "text/plain; charset=utf-8"}}
	if err := h.writeFixed(out, head, status, hdrs, []byte(body)); err != nil {
		return err
	}
	return out.end()
}
