package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cgiref/cgiref/environ"
)

func postEnv(n int) environ.Environ {
	return baseEnv("REQUEST_METHOD", "POST", "CONTENT_LENGTH", strconv.Itoa(n), "CONTENT_TYPE", "application/octet-stream")
}

func TestShortStdin(t *testing.T) {
	var readErr error
	var got []byte
	h := NewBaseCGI(strings.NewReader("abc"), io.Discard, io.Discard, postEnv(10))
	h.Run(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, readErr = io.ReadAll(r.Body)
	}))
	if string(got) != "abc" || !errors.Is(readErr, io.ErrUnexpectedEOF) {
		t.Errorf("ReadAll = %q, %v; want \"abc\", io.ErrUnexpectedEOF", got, readErr)
	}
}

func TestBodyStopsAtContentLength(t *testing.T) {
	var got []byte
	h := NewBaseCGI(strings.NewReader("hello, and more"), io.Discard, io.Discard, postEnv(5))
	h.Run(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		if r.ContentLength != 5 || r.Header.Get("Content-Type") != "application/octet-stream" {
			t.Errorf("ContentLength %d, Content-Type %q", r.ContentLength, r.Header.Get("Content-Type"))
		}
	}))
	if string(got) != "hello" {
		t.Errorf("body %q", got)
	}
}

func TestNoStdinIsNoBody(t *testing.T) {
	runApp(cgi(baseEnv(), ""), func(w http.ResponseWriter, r *http.Request) {
		if r.Body != http.NoBody || r.ContentLength != 0 {
			t.Errorf("Body %T, ContentLength %d", r.Body, r.ContentLength)
		}
	})
}

// mimicWholeBodyFirst plays a web server that writes the whole request body
// before it reads any of the answer (Apache mod_cgid, Caddy's FastCGI
// transport), over pipes with no buffering at all: without spooling, an app
// that answers while it reads deadlocks.
func mimicWholeBodyFirst(t *testing.T, body []byte, spoolMemory int64, app http.HandlerFunc) []byte {
	t.Helper()
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	h := NewBaseCGI(stdinR, stdoutW, io.Discard, postEnv(len(body)))
	h.SpoolMemory = spoolMemory
	runErr := make(chan error, 1)
	go func() {
		err := h.Run(app)
		stdoutW.Close()
		runErr <- err
	}()
	answer := make(chan []byte, 1)
	go func() {
		stdinW.Write(body)
		stdinW.Close()
		b, _ := io.ReadAll(stdoutR)
		answer <- b
	}()
	select {
	case b := <-answer:
		if err := <-runErr; err != nil {
			t.Errorf("Run = %v", err)
		}
		return b
	case <-time.After(20 * time.Second):
		stdinR.CloseWithError(errors.New("deadlock"))
		stdoutR.CloseWithError(errors.New("deadlock"))
		t.Fatal("deadlock: the answer did not finish within 20 s")
		return nil
	}
}

func echoWhileReading(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	buf := make([]byte, 1000)
	for {
		n, err := r.Body.Read(buf)
		w.Write(buf[:n])
		if err != nil {
			return
		}
	}
}

func TestSpoolPreventsDeadlock(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for _, mem := range []int64{0, 4096} {                  // in memory, and mostly in a temporary file
		got := mimicWholeBodyFirst(t, body, mem, echoWhileReading)
		head := "Status: 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n"
		if !bytes.HasPrefix(got, []byte(head)) || sha256.Sum256(got[len(head):]) != sha256.Sum256(body) {
			t.Errorf("SpoolMemory %d: echo is not the body (%d bytes)", mem, len(got))
		}
	}
}

func TestSpoolOnFlushThenRead(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 300000)
	var got []byte
	mimicWholeBodyFirst(t, body, 1000, func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		got, _ = io.ReadAll(r.Body)
	})
	if !bytes.Equal(got, body) {
		t.Errorf("read %d bytes after the spool, want %d", len(got), len(body))
	}
}

func TestSpoolKeepsShortBodyError(t *testing.T) {
	var readErr error
	var n int
	h := NewBaseCGI(strings.NewReader("abc"), io.Discard, io.Discard, postEnv(10))
	h.Run(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		b, err := io.ReadAll(r.Body)
		n, readErr = len(b), err
	}))
	if n != 3 || !errors.Is(readErr, io.ErrUnexpectedEOF) {
		t.Errorf("after spooling: %d bytes, %v", n, readErr)
	}
}

func TestRequestContext(t *testing.T) {
	parent, cancelParent := context.WithCancel(context.Background())
	type key struct{}
	parent = context.WithValue(parent, key{}, "front end value")
	h := NewBaseCGI(nil, io.Discard, io.Discard, baseEnv("HTTPS", "ON"))
	h.Context = parent
	h.Multiprocess, h.RunOnce = true, true
	var reqCtx context.Context
	h.Run(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqCtx = r.Context()
		if r.Context().Value(key{}) != "front end value" {
			t.Error("the front end's context value is lost")
		}
		want := Flags{Multithread: true, Multiprocess: true, RunOnce: true, Scheme: "https"}
		if got := RequestFlags(r); got != want {
			t.Errorf("RequestFlags = %+v, want %+v", got, want)
		}
		if Environ(r)["HTTPS"] != "ON" || Errors(r) != h.Stderr {
			t.Error("Environ or Errors is not the gateway's")
		}
		cancelParent()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
			t.Error("cancelling the parent did not cancel the request")
		}
	}))
	if reqCtx.Err() == nil {
		t.Error("the request's context is still live after Run")
	}
}

func TestOutsideGateway(t *testing.T) {
	r, _ := http.NewRequest("GET", "https://example.org/", nil)
	if Environ(r) != nil || Errors(r) != io.Discard {
		t.Error("Environ/Errors outside a gateway")
	}
	if f := RequestFlags(r); f != (Flags{Scheme: "http"}) {
		t.Errorf("RequestFlags = %+v", f)
	}
}

// TestScopedContext: with ScopedContext, the app's context is the front
// end's own (its values, its cancellation, its cause), carrying the
// gateway's request info, and a context the app derives from it is
// cancelled with it.
func TestScopedContext(t *testing.T) {
	errAborted := errors.New("aborted by the web server")
	parent, stop := context.WithCancelCause(context.Background())
	type key struct{}
	parent = context.WithValue(parent, key{}, "front end value")
	h := NewBaseCGI(nil, io.Discard, io.Discard, baseEnv("HTTPS", "on"))
	h.Context, h.ScopedContext = parent, true
	h.Run(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Value(key{}) != "front end value" {
			t.Error("the front end's context value is lost")
		}
		if Environ(r)["HTTPS"] != "on" || RequestFlags(r).Scheme != "https" {
			t.Error("Environ or RequestFlags is not the gateway's")
		}
		// An app that wraps the context keeps the gateway's info.
		wrapped := r.WithContext(context.WithValue(r.Context(), key{}, "app value"))
		if Environ(wrapped)["HTTPS"] != "on" {
			t.Error("Environ is lost under a context the app derived")
		}
		child, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop(errAborted)
		select {
		case <-child.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("cancelling the front end's context did not reach the app's")
		}
		if cause := context.Cause(r.Context()); cause != errAborted {
			t.Errorf("context.Cause = %v, want the front end's cause", cause)
		}
	}))

	// Without a Context, ScopedContext changes nothing: Run cancels the
	// context it made when it returns.
	h = NewBaseCGI(nil, io.Discard, io.Discard, baseEnv())
	h.ScopedContext = true
	var reqCtx context.Context
	h.Run(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reqCtx = r.Context() }))
	if reqCtx.Err() == nil {
		t.Error("the request's context is still live after Run")
	}
}
