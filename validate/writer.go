package validate

import (
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/cgiref/cgiref/headers"
)

// responseWriter checks what the application does with its ResponseWriter.
// A mutex guards the state because a goroutine that outlives the handler
// may still call it.
type responseWriter struct {
	w    http.ResponseWriter
	rep  *reporter
	head bool // HEAD request: no body count

	mu       sync.Mutex
	status   int   // final status; 0 until committed
	length   int64 // Content-Length at the commit; -1 when none
	written  int64
	returned bool
}

// Header returns the underlying header map.
func (rw *responseWriter) Header() http.Header { return rw.w.Header() }

// WriteHeader checks the code and, for a final status, the header fields.
func (rw *responseWriter) WriteHeader(code int) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.returned {
		rw.rep.late(violation("write-after-return", "WriteHeader(%d) after the handler returned", code))
		return
	}
	if code < 100 || code > 999 {
		panic(violation("status", "WriteHeader(%d): the status code must have three digits", code))
	}
	if rw.status != 0 {
		panic(violation("write-header-twice", "WriteHeader(%d) after the status %d was set", code, rw.status))
	}
	if code >= 200 || code == http.StatusSwitchingProtocols {
		rw.commit(code)
	} else {
		checkFields(rw.w.Header(), rw.rep)
	}
	rw.w.WriteHeader(code)
}

// commit checks the header fields as they are when status becomes final.
// It is called with mu held.
func (rw *responseWriter) commit(status int) {
	h := rw.w.Header()
	checkFields(h, rw.rep)
	checkContentType(h, status)
	rw.length = -1
	if vs := h["Content-Length"]; len(vs) > 0 {
		n, ok := parseDecimal(vs[0])
		if len(vs) > 1 || !ok {
			panic(violation("content-length", "Content-Length %q is not one non-negative integer", vs))
		}
		rw.length = n
	}
	rw.status = status
}

// counted reports whether the body size must match Content-Length.
func (rw *responseWriter) counted() bool {
	s := rw.status
	return rw.length >= 0 && !rw.head && s >= 200 && s != http.StatusNoContent && s != http.StatusNotModified
}

// Write commits an implicit 200 and checks the body against Content-Length.
func (rw *responseWriter) Write(p []byte) (int, error) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if err := rw.before("Write"); err != nil {
		return 0, err
	}
	if rw.counted() && rw.written+int64(len(p)) > rw.length {
		panic(violation("content-length", "%d bytes written, past Content-Length %d", rw.written+int64(len(p)), rw.length))
	}
	n, err := rw.w.Write(p)
	rw.written += int64(n)
	return n, err
}

// ReadFrom copies src to the underlying writer, through its ReadFrom when it
// has one.
func (rw *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if err := rw.before("ReadFrom"); err != nil {
		return 0, err
	}
	if rw.counted() {
		// Copy one byte more than allowed so that an overlong body is seen.
		src = io.LimitReader(src, rw.length-rw.written+1)
	}
	var n int64
	var err error
	if rf, ok := rw.w.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{rw.w}, src)
	}
	rw.written += n
	if rw.counted() && rw.written > rw.length {
		panic(violation("content-length", "%d bytes written, past Content-Length %d", rw.written, rw.length))
	}
	return n, err
}

// writerOnly hides every method but Write, so io.Copy cannot recurse.
type writerOnly struct{ io.Writer }

// before is the common start of Write, ReadFrom and Flush, called with mu
// held: a use after the handler returned is refused, the first one commits
// an implicit 200.
func (rw *responseWriter) before(op string) error {
	if rw.returned {
		e := violation("write-after-return", "%s after the handler returned", op)
		rw.rep.late(e)
		return e
	}
	if rw.status == 0 {
		rw.commit(http.StatusOK)
	}
	return nil
}

// FlushError flushes the underlying writer through http.ResponseController.
func (rw *responseWriter) FlushError() error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if err := rw.before("Flush"); err != nil {
		return err
	}
	return http.NewResponseController(rw.w).Flush()
}

// Flush implements http.Flusher.
func (rw *responseWriter) Flush() { _ = rw.FlushError() }

// Unwrap returns the underlying ResponseWriter, for http.ResponseController.
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.w }

// finish runs the checks due when the handler returns normally.
func (rw *responseWriter) finish() {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.status == 0 {
		rw.commit(http.StatusOK)
	}
	if rw.counted() && rw.written != rw.length {
		panic(violation("content-length", "the handler returned after %d bytes of Content-Length %d", rw.written, rw.length))
	}
}

// close marks the handler as returned, normally or by a panic.
func (rw *responseWriter) close() {
	rw.mu.Lock()
	rw.returned = true
	rw.mu.Unlock()
}

// wsgiName is the header name pattern of wsgiref.validate.
var wsgiName = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9\-_]*$`)

// checkFields checks every header field the application set.
func checkFields(h http.Header, rep *reporter) {
	for _, name := range slices.Sorted(maps.Keys(h)) {
		vs := h[name]
		if strings.EqualFold(name, "Status") {
			panic(violation("status-field", "the Status field cannot be used; the status comes from WriteHeader"))
		}
		if headers.IsHopByHop(name) {
			panic(violation("hop-by-hop", "hop-by-hop field %q; the web server owns the connection", name))
		}
		if err := headers.CheckField(name, ""); err != nil {
			panic(violation("header-field", "%v", err))
		}
		if !wsgiName.MatchString(name) || strings.HasSuffix(name, "-") || strings.HasSuffix(name, "_") {
			rep.warn("header-name", "field name %q is outside wsgiref's ^[a-zA-Z][a-zA-Z0-9\\-_]*$", name)
		}
		for _, v := range vs {
			if err := headers.CheckField(name, v); err != nil {
				panic(violation("header-field", "%v", err))
			}
			if strings.IndexByte(v, '\t') >= 0 {
				rep.warn("header-value", "field %q has a TAB in its value %q", name, v)
			}
		}
	}
}

// checkContentType applies wsgiref's Content-Type rule to a final status.
func checkContentType(h http.Header, status int) {
	has := len(h["Content-Type"]) > 0
	switch {
	case status == http.StatusNoContent || status == http.StatusNotModified:
		if has {
			panic(violation("content-type", "Content-Type in a %d answer, which has no content", status))
		}
	case status >= 200 && !has:
		panic(violation("content-type", "no Content-Type in a %d answer", status))
	}
}

// inputReader checks that the body does not run past CONTENT_LENGTH.
type inputReader struct {
	rc    io.ReadCloser
	limit int64

	mu   sync.Mutex
	read int64
	err  *Error
}

// Read reads from the body, cutting it at CONTENT_LENGTH.
func (in *inputReader) Read(p []byte) (int, error) {
	n, err := in.rc.Read(p)
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.read+int64(n) > in.limit {
		keep := in.limit - in.read
		if in.err == nil {
			in.err = violation("input-length", "the body holds more than CONTENT_LENGTH %d bytes", in.limit)
		}
		in.read = in.limit
		return int(keep), in.err
	}
	in.read += int64(n)
	return n, err
}

// Close closes the body; that is legal in Go.
func (in *inputReader) Close() error { return in.rc.Close() }

func (in *inputReader) violation() *Error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.err
}
