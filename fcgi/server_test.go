package fcgi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cgiref/cgiref/environ"
	"github.com/cgiref/cgiref/gateway"
	"github.com/cgiref/cgiref/internal/wine"
)

func TestHello(t *testing.T) {
	addr := startServer(t, &Server{Handler: hello})
	c := dial(t, addr)
	c.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/"), nil))
	r := c.results(1)[1]
	want := "Status: 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nHello"
	if got := r.stdout.String(); got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if r.end != (endRequest{}) || r.ends != 1 || !r.stdoutClosed {
		t.Errorf("end = %+v (%d END_REQUEST, stdout closed %v), want one, complete, status 0", r.end, r.ends, r.stdoutClosed)
	}
	c.expectOpen(2)
}

func TestMultiplexed(t *testing.T) {
	addr := startServer(t, &Server{Handler: echo})
	c := dial(t, addr)
	const n = 5
	bodies := make([][]byte, n+1)
	var b []byte
	for id := uint16(1); id <= n; id++ {
		bodies[id] = bytes.Repeat([]byte{byte('a' + id)}, int(id)*70000)
		b = appendBeginRequest(b, id, roleResponder, flagKeepConn)
		b = appendRecord(b, typeParams, id, postEnv("/echo", len(bodies[id])).encode())
		b, _ = appendHeader(b, typeParams, id, 0)
	}
	// Interleave the bodies record by record.
	for off := 0; off < n*70000; off += 1000 {
		for id := uint16(1); id <= n; id++ {
			if off < len(bodies[id]) {
				b = appendRecord(b, typeStdin, id, bodies[id][off:min(off+1000, len(bodies[id]))])
			}
		}
	}
	for id := uint16(1); id <= n; id++ {
		b, _ = appendHeader(b, typeStdin, id, 0)
	}
	go c.send(b)
	res := c.results(1, 2, 3, 4, 5)
	for id := uint16(1); id <= n; id++ {
		if got := res[id].body(); got != string(bodies[id]) {
			t.Errorf("request %d: body of %d bytes, want %d", id, len(got), len(bodies[id]))
		}
		if res[id].ends != 1 || res[id].end.appStatus != 0 {
			t.Errorf("request %d: %d END_REQUEST, %+v", id, res[id].ends, res[id].end)
		}
	}
}

// TestAbort checks ABORT_REQUEST while the handler runs: the context is
// cancelled with ErrRequestAborted, a body read fails with it, and one
// END_REQUEST with a nonzero status follows the handler's return.
func TestAbort(t *testing.T) {
	type result struct {
		cause, readErr error
	}
	got := make(chan result, 1)
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/still-open" {
			return
		}
		close(started)
		<-r.Context().Done()
		_, err := r.Body.Read(make([]byte, 10))
		got <- result{context.Cause(r.Context()), err}
	})
	addr := startServer(t, &Server{Handler: h})
	c := dial(t, addr)
	b := appendBeginRequest(nil, 1, roleResponder, flagKeepConn)
	b = appendRecord(b, typeParams, 1, postEnv("/", 100).encode())
	b, _ = appendHeader(b, typeParams, 1, 0)
	b = appendRecord(b, typeStdin, 1, []byte("partial"))
	c.mustSend(b)
	waitFor(t, started, "the handler")
	c.mustSend(appendRecord(nil, typeAbortRequest, 1, nil))
	res := waitFor(t, got, "the handler's result")
	if !errors.Is(res.cause, ErrRequestAborted) {
		t.Errorf("context cause = %v, want ErrRequestAborted", res.cause)
	}
	if !errors.Is(res.readErr, ErrRequestAborted) {
		t.Errorf("body read error = %v, want ErrRequestAborted", res.readErr)
	}
	r := c.results(1)[1]
	if r.ends != 1 || r.end.appStatus == 0 || r.stdout.Len() != 0 {
		t.Errorf("got %d END_REQUEST %+v and stdout %q; want one with a nonzero status, no output", r.ends, r.end, r.stdout.String())
	}
	// A second abort, now for no request, changes nothing.
	c.mustSend(appendRecord(nil, typeAbortRequest, 1, nil))
	c.expectOpen(1)
}

// TestAbortBeforeParams checks an abort before the handler started: the
// request ends at once.
func TestAbortBeforeParams(t *testing.T) {
	addr := startServer(t, &Server{Handler: hello})
	c := dial(t, addr)
	b := appendBeginRequest(nil, 7, roleResponder, flagKeepConn)
	b = appendRecord(b, typeParams, 7, getEnv("/").encode())
	b = appendRecord(b, typeAbortRequest, 7, nil)
	c.mustSend(b)
	r := c.results(7)[7]
	if r.ends != 1 || r.end.appStatus == 0 || r.stdout.Len() != 0 {
		t.Errorf("got %d END_REQUEST %+v, stdout %q", r.ends, r.end, r.stdout.String())
	}
	c.expectOpen(7)
}

func TestConnCloseCancels(t *testing.T) {
	type result struct{ cause, readErr, writeErr error }
	got := make(chan result, 1)
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		_, rerr := r.Body.Read(make([]byte, 10))
		w.Write(bytes.Repeat([]byte("x"), 100000))
		_, werr := w.Write([]byte("more"))
		got <- result{context.Cause(r.Context()), rerr, werr}
	})
	addr := startServer(t, &Server{Handler: h})
	c := dial(t, addr)
	b := appendBeginRequest(nil, 1, roleResponder, flagKeepConn)
	b = appendRecord(b, typeParams, 1, postEnv("/", 100).encode())
	b, _ = appendHeader(b, typeParams, 1, 0)
	b = appendRecord(b, typeStdin, 1, []byte("x")) // the handler starts with the first body bytes
	c.mustSend(b)
	waitFor(t, started, "the handler")
	c.conn.Close()
	res := waitFor(t, got, "the handler's result")
	if !errors.Is(res.cause, ErrConnClosed) {
		t.Errorf("context cause = %v, want ErrConnClosed", res.cause)
	}
	if !errors.Is(res.readErr, ErrConnClosed) {
		t.Errorf("body read error = %v, want ErrConnClosed", res.readErr)
	}
	if !gateway.IsClientGone(res.writeErr) {
		t.Errorf("write error = %v, want a client-gone error", res.writeErr)
	}
}

func TestGetValues(t *testing.T) {
	tests := []struct {
		name string
		srv  *Server
		ask  pairs
		want pairs
	}{
		{"all", &Server{MaxConns: 10, MaxRequests: 50}, pairs{{"FCGI_MAX_CONNS", ""}, {"FCGI_MAX_REQS", ""}, {"FCGI_MPXS_CONNS", ""}},
			pairs{{"FCGI_MAX_CONNS", "10"}, {"FCGI_MAX_REQS", "50"}, {"FCGI_MPXS_CONNS", "1"}}},
		{"one", &Server{}, pairs{{"FCGI_MPXS_CONNS", ""}}, pairs{{"FCGI_MPXS_CONNS", "1"}}},
		{"no multiplexing", &Server{DisableMultiplexing: true}, pairs{{"FCGI_MPXS_CONNS", ""}}, pairs{{"FCGI_MPXS_CONNS", "0"}}},
		{"unlimited", &Server{MaxRequests: -1}, pairs{{"FCGI_MAX_REQS", ""}}, pairs{{"FCGI_MAX_REQS", unlimited}}},
		{"default", &Server{}, pairs{{"FCGI_MAX_REQS", ""}}, pairs{{"FCGI_MAX_REQS", "1024"}}},
		{"unknown names dropped", &Server{MaxConns: 3}, pairs{{"X_OTHER", ""}, {"FCGI_MAX_CONNS", ""}}, pairs{{"FCGI_MAX_CONNS", "3"}}},
		{"nothing known", &Server{}, pairs{{"X_OTHER", ""}}, nil},
		{"empty", &Server{}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.srv.Handler = hello
			c := dial(t, startServer(t, tt.srv))
			c.mustSend(appendRecord(nil, typeGetValues, 0, tt.ask.encode()))
			rec, err := c.rr.next()
			if err != nil {
				t.Fatal(err)
			}
			if rec.typ != typeGetValuesResult || rec.id != 0 {
				t.Fatalf("answer is %v for request %d", rec.typ, rec.id)
			}
			if got := string(rec.content); got != string(tt.want.encode()) {
				t.Errorf("GET_VALUES_RESULT = %q, want %q", got, tt.want.encode())
			}
			c.expectOpen(1)
		})
	}
}

func TestUnknownManagementType(t *testing.T) {
	for _, typ := range []recType{typeParams, typeStdin, typeAbortRequest, typeUnknownType, 12, 200} {
		t.Run(typ.String(), func(t *testing.T) {
			c := dial(t, startServer(t, &Server{Handler: hello}))
			c.mustSend(appendRecord(nil, typ, 0, []byte("abc")))
			rec, err := c.rr.next()
			if err != nil {
				t.Fatal(err)
			}
			want := appendUnknownType(nil, typ)[headerLen:]
			if rec.typ != typeUnknownType || rec.id != 0 || !bytes.Equal(rec.content, want) {
				t.Errorf("answer %v id %d %x, want UNKNOWN_TYPE %x", rec.typ, rec.id, rec.content, want)
			}
			c.expectOpen(1)
		})
	}
}

func TestUnknownRole(t *testing.T) {
	c := dial(t, startServer(t, &Server{Handler: hello}))
	c.mustSend(requestBytes(3, 9, flagKeepConn, getEnv("/"), []byte("ignored")))
	r := c.results(3)[3]
	if r.ends != 1 || r.end.protocolStatus != statusUnknownRole || r.stdout.Len() != 0 {
		t.Errorf("got %d END_REQUEST %+v, stdout %q; want FCGI_UNKNOWN_ROLE", r.ends, r.end, r.stdout.String())
	}
	c.expectOpen(3) // the id is free again
}

func TestRequestIDZero(t *testing.T) {
	addr := startServer(t, &Server{Handler: hello})
	other := dial(t, addr)
	c := dial(t, addr)
	c.mustSend(requestBytes(0, roleResponder, flagKeepConn, getEnv("/"), nil))
	c.expectClosed()
	other.expectOpen(1)
}

func TestMalformed(t *testing.T) {
	badVersion := appendBeginRequest(nil, 1, roleResponder, flagKeepConn)
	badVersion[0] = 2
	dup := appendBeginRequest(nil, 1, roleResponder, flagKeepConn)
	dup = appendBeginRequest(dup, 1, roleResponder, flagKeepConn)
	shortBegin := appendRecord(nil, typeBeginRequest, 1, []byte{0, 1})
	tests := []struct {
		name  string
		input []byte
	}{
		{"bad version", badVersion},
		{"truncated header", []byte{1, 1, 0}},
		{"truncated content", appendBeginRequest(nil, 1, roleResponder, 0)[:12]},
		{"BEGIN_REQUEST with id 0", appendBeginRequest(nil, 0, roleResponder, flagKeepConn)},
		{"BEGIN_REQUEST for a request in flight", dup},
		{"short BEGIN_REQUEST body", shortBegin},
		{"bad GET_VALUES", appendRecord(nil, typeGetValues, 0, []byte{0x80, 1})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &syncWriter{w: new(bytes.Buffer)}
			addr := startServer(t, &Server{Handler: hello, MaxHeaderBytes: 1024,
				Logger: slog.New(slog.NewTextHandler(logs, nil))})
			other := dial(t, addr)
			c := dial(t, addr)
			c.mustSend(tt.input)
			if tt.name == "truncated header" || tt.name == "truncated content" {
				c.conn.(interface{ CloseWrite() error }).CloseWrite()
			}
			c.expectClosed()
			other.expectOpen(1)
			if !strings.Contains(logs.String(), "closing connection") {
				t.Errorf("log %q has no error", logs.String())
			}
		})
	}
}

// syncWriter serialises writes for a logger shared by goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprint(s.w)
}

func TestFilter(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, _ := io.ReadAll(r.Body)
		data, err := io.ReadAll(Data(r))
		env := gateway.Environ(r)
		fmt.Fprintf(w, "stdin=%s data=%s err=%v len=%s mod=%s", in, data, err, env["FCGI_DATA_LENGTH"], env["FCGI_DATA_LAST_MOD"])
	})
	c := dial(t, startServer(t, &Server{Handler: h}))
	env := append(postEnv("/f", 2), [2]string{"FCGI_DATA_LENGTH", "6"}, [2]string{"FCGI_DATA_LAST_MOD", "1700000000"})
	b := requestBytes(1, roleFilter, flagKeepConn, env, []byte("in"))
	b = appendRecord(b, typeData, 1, []byte("da"))
	b = appendRecord(b, typeData, 1, []byte("ta!!"))
	b, _ = appendHeader(b, typeData, 1, 0)
	c.mustSend(b)
	r := c.results(1)[1]
	if want := "stdin=in data=data!! err=<nil> len=6 mod=1700000000"; r.body() != want {
		t.Errorf("body = %q, want %q", r.body(), want)
	}
}

func TestDataOutsideFilter(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, Data(r))
		fmt.Fprintf(w, "%d %v", n, err)
	})
	c := dial(t, startServer(t, &Server{Handler: h}))
	b := requestBytes(1, roleResponder, flagKeepConn, getEnv("/"), nil)
	b = appendRecord(b, typeData, 1, []byte("ignored"))
	c.mustSend(b)
	if r := c.results(1)[1]; r.body() != "0 <nil>" {
		t.Errorf("body = %q", r.body())
	}
}

// TestAuthorizer checks that an authorizer runs without STDIN (lighttpd
// sends none) and that Variable- fields pass through with their case.
func TestAuthorizer(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Auth") != "ok" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header()["Variable-AUTH_USER"] = []string{"tester"}
		fmt.Fprintf(w, "body %d", n)
	})
	c := dial(t, startServer(t, &Server{Handler: h}))
	env := append(postEnv("/auth", 10), [2]string{"HTTP_X_AUTH", "ok"})
	b := appendBeginRequest(nil, 1, roleAuthorizer, flagKeepConn)
	b = appendRecord(b, typeParams, 1, env.encode())
	b, _ = appendHeader(b, typeParams, 1, 0)
	c.mustSend(b) // no STDIN at all
	r := c.results(1)[1]
	if !strings.Contains(r.head(), "Status: 200 OK") || !strings.Contains(r.head(), "\r\nVariable-AUTH_USER: tester") || r.body() != "body 0" {
		t.Errorf("authorizer answered %q", r.stdout.String())
	}
	c.mustSend(requestBytes(2, roleAuthorizer, flagKeepConn, postEnv("/auth", 3), []byte("abc")))
	if r := c.results(2)[2]; !strings.HasPrefix(r.head(), "Status: 403 Forbidden") {
		t.Errorf("authorizer answered %q", r.stdout.String())
	}
}

func TestKeepConn(t *testing.T) {
	addr := startServer(t, &Server{Handler: hello})
	c := dial(t, addr)
	c.mustSend(requestBytes(1, roleResponder, 0, getEnv("/"), nil))
	if r := c.results(1)[1]; r.body() != "Hello" {
		t.Errorf("body = %q", r.body())
	}
	c.expectClosed()
	c = dial(t, addr)
	c.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/"), nil))
	c.results(1)
	c.expectOpen(2)
}

// blocker is a handler whose requests to /block wait for release.
type blocker struct {
	started chan string
	release chan struct{}
}

func newBlocker() *blocker {
	return &blocker{started: make(chan string, 10), release: make(chan struct{})}
}

func (b *blocker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/block") {
		b.started <- r.URL.Path
		select {
		case <-b.release:
		case <-time.After(testTimeout):
		}
	}
	io.WriteString(w, "done "+r.URL.Path)
}

func TestOverloaded(t *testing.T) {
	bl := newBlocker()
	addr := startServer(t, &Server{Handler: bl, MaxRequests: 1})
	c := dial(t, addr)
	c.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/block"), nil))
	waitFor(t, bl.started, "the first request")
	other := dial(t, addr)
	other.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/x"), []byte("ignored")))
	if r := other.results(1)[1]; r.end.protocolStatus != statusOverloaded || r.stdout.Len() != 0 {
		t.Errorf("second request: %+v %q, want FCGI_OVERLOADED", r.end, r.stdout.String())
	}
	c.mustSend(requestBytes(2, roleResponder, flagKeepConn, getEnv("/y"), nil))
	if r := c.results(2)[2]; r.end.protocolStatus != statusOverloaded {
		t.Errorf("multiplexed request: %+v, want FCGI_OVERLOADED", r.end)
	}
	close(bl.release)
	if r := c.results(1)[1]; r.body() != "done /block" {
		t.Errorf("first request: %q", r.body())
	}
	other.expectOpen(2)
}

func TestCantMultiplex(t *testing.T) {
	bl := newBlocker()
	addr := startServer(t, &Server{Handler: bl, DisableMultiplexing: true})
	c := dial(t, addr)
	c.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/block"), nil))
	waitFor(t, bl.started, "the first request")
	c.mustSend(requestBytes(2, roleResponder, flagKeepConn, getEnv("/y"), []byte("ignored")))
	if r := c.results(2)[2]; r.end.protocolStatus != statusCantMultiplex {
		t.Errorf("second request: %+v, want FCGI_CANT_MPX_CONN", r.end)
	}
	dial(t, addr).expectOpen(1) // another connection is served
	close(bl.release)
	c.results(1)
	c.expectOpen(2)
}

// TestHeadOfLine checks that a handler that never reads its 1 MiB body
// does not hold up another request on the same connection.
func TestHeadOfLine(t *testing.T) {
	bl := newBlocker()
	addr := startServer(t, &Server{Handler: bl, SpoolMemory: 64 << 10, TempDir: wine.TempDir(t)})
	c := dial(t, addr)
	body := bytes.Repeat([]byte("z"), 1<<20)
	b := appendBeginRequest(nil, 1, roleResponder, flagKeepConn)
	b = appendRecord(b, typeParams, 1, postEnv("/block", len(body)).encode())
	b, _ = appendHeader(b, typeParams, 1, 0)
	b = appendRecord(b, typeStdin, 1, body)
	b, _ = appendHeader(b, typeStdin, 1, 0)
	b = append(b, requestBytes(2, roleResponder, flagKeepConn, getEnv("/quick"), nil)...)
	sent := make(chan error, 1)
	go func() { sent <- c.send(b) }()
	waitFor(t, bl.started, "request A")
	if r := c.results(2)[2]; r.body() != "done /quick" {
		t.Errorf("request B: %q", r.body())
	}
	close(bl.release)
	if r := c.results(1)[1]; r.body() != "done /block" || r.end.appStatus != 0 {
		t.Errorf("request A: %q %+v", r.body(), r.end)
	}
	if err := waitFor(t, sent, "the client's write"); err != nil {
		t.Error(err)
	}
}

func TestPanicIsolation(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		time.Sleep(20 * time.Millisecond)
		io.WriteString(w, "fine")
	})
	c := dial(t, startServer(t, &Server{Handler: h}))
	b := requestBytes(1, roleResponder, flagKeepConn, getEnv("/slow"), nil)
	b = append(b, requestBytes(2, roleResponder, flagKeepConn, getEnv("/panic"), nil)...)
	c.mustSend(b)
	res := c.results(1, 2)
	if res[1].body() != "fine" {
		t.Errorf("other request: %q", res[1].stdout.String())
	}
	if !strings.HasPrefix(res[2].head(), "Status: 500 Internal Server Error") || !strings.Contains(res[2].stderr.String(), "boom") {
		t.Errorf("panicking request: stdout %q stderr %q", res[2].stdout.String(), res[2].stderr.String())
	}
	c.expectOpen(3)
}

func TestShutdown(t *testing.T) {
	bl := newBlocker()
	s := &Server{Handler: bl, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	l := listen(t)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	busy := dial(t, l.Addr().String())
	idle := dial(t, l.Addr().String())
	busy.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/block"), nil))
	waitFor(t, bl.started, "the request")
	idle.expectOpen(1)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a busy connection = %v, want DeadlineExceeded", err)
	}
	idle.expectClosed()
	busy.mustSend(requestBytes(2, roleResponder, flagKeepConn, getEnv("/late"), nil))
	if r := busy.results(2)[2]; r.end.protocolStatus != statusOverloaded {
		t.Errorf("request during shutdown: %+v, want FCGI_OVERLOADED", r.end)
	}
	if err := waitFor(t, served, "Serve"); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
	close(bl.release)
	if r := busy.results(1)[1]; r.body() != "done /block" {
		t.Errorf("in-flight request: %q", r.body())
	}
	busy.expectClosed()
	ctx2, cancel2 := context.WithTimeout(context.Background(), testTimeout)
	defer cancel2()
	if err := s.Shutdown(ctx2); err != nil {
		t.Errorf("second Shutdown = %v", err)
	}
	if err := s.Serve(listen(t)); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v", err)
	}
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestStderr(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(gateway.Errors(r), "first line\nsecond")
		io.WriteString(w, "ok")
	})
	c := dial(t, startServer(t, &Server{Handler: h}))
	c.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/"), nil))
	if r := c.results(1)[1]; r.stderr.String() != "first line\nsecond" || r.body() != "ok" {
		t.Errorf("stderr %q body %q", r.stderr.String(), r.body())
	}

	logs := &syncWriter{w: new(bytes.Buffer)}
	c = dial(t, startServer(t, &Server{Handler: h, Errors: gateway.ErrorsToLog, Logger: slog.New(slog.NewTextHandler(logs, nil))}))
	c.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/"), nil))
	if r := c.results(1)[1]; r.stderr.Len() != 0 || r.body() != "ok" {
		t.Errorf("with ErrorsToLog: stderr %q body %q", r.stderr.String(), r.body())
	}
	for _, want := range []string{`line="first line"`, "line=second"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log %q lacks %s", logs.String(), want)
		}
	}
}

// TestChunkedLength checks that CONTENT_LENGTH -1 (Caddy, chunked request)
// reads the body to the end of STDIN.
func TestChunkedLength(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		_, has := gateway.Environ(r)["CONTENT_LENGTH"]
		fmt.Fprintf(w, "%s %v %d %v", b, err, r.ContentLength, has)
	})
	c := dial(t, startServer(t, &Server{Handler: h}))
	env := append(getEnv("/"), [2]string{"CONTENT_LENGTH", "-1"})
	env[0][1] = "POST"
	c.mustSend(requestBytes(1, roleResponder, flagKeepConn, env, []byte("chunked body")))
	if r := c.results(1)[1]; r.body() != "chunked body <nil> -1 false" {
		t.Errorf("body %q", r.body())
	}
}

func TestProcessEnv(t *testing.T) {
	got := make(chan map[string]string, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- ProcessEnv(r) })
	c := dial(t, startServer(t, &Server{Handler: h}))
	env := append(postEnv("/p", 0), [2]string{"REMOTE_USER", "alice"}, [2]string{"HTTP_ACCEPT", "*/*"},
		[2]string{"HTTPS", "on"}, [2]string{"DOCUMENT_ROOT", "/srv"})
	c.mustSend(requestBytes(1, roleResponder, flagKeepConn, env, nil))
	c.results(1)
	m := waitFor(t, got, "the handler")
	want := map[string]string{"REMOTE_USER": "alice", "DOCUMENT_ROOT": "/srv", "SERVER_NAME": "example.test",
		"SERVER_PORT": "80", "GATEWAY_INTERFACE": "CGI/1.1"}
	if fmt.Sprint(m) != fmt.Sprint(want) {
		t.Errorf("ProcessEnv = %v, want %v", m, want)
	}
	if m := ProcessEnv(httptestRequest()); m != nil {
		t.Errorf("ProcessEnv outside a gateway = %v, want nil", m)
	}
}

func httptestRequest() *http.Request {
	r, _ := http.NewRequest("GET", "http://example.test/", nil)
	return r
}

func TestAllowedAddrs(t *testing.T) {
	tests := []struct {
		addrs []netip.Prefix
		open  bool
	}{
		{nil, true},
		{[]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, true},
		{[]netip.Prefix{netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("127.0.0.0/8")}, true},
		{[]netip.Prefix{netip.MustParsePrefix("192.0.2.7/32")}, false},
		{[]netip.Prefix{netip.MustParsePrefix("::1/128")}, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.addrs), func(t *testing.T) {
			c := dial(t, startServer(t, &Server{Handler: hello, AllowedAddrs: tt.addrs}))
			if tt.open {
				c.expectOpen(1)
			} else {
				c.send(requestBytes(1, roleResponder, flagKeepConn, getEnv("/"), nil))
				c.expectClosed()
			}
		})
	}
	t.Setenv("FCGI_WEB_SERVER_ADDRS", "127.0.0.1,not-an-ip")
	if err := Serve(listen(t), hello); err == nil || !strings.Contains(err.Error(), "not-an-ip") {
		t.Errorf("Serve with a bad FCGI_WEB_SERVER_ADDRS = %v", err)
	}
}

// TestIdleTimeout: a connection left idle after a request closes after
// IdleTimeout, not before, whether the request ran on the read loop
// (quick, or long enough to get a background read) or in a goroutine of
// its own (its body still arriving).
func TestIdleTimeout(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/slow" {
			time.Sleep(3 * inlineTick) // past two ticks: the background read starts
		}
		io.WriteString(w, "ok")
	})
	for _, tc := range []struct {
		name string
		send func(c *client)
	}{
		{"quick", func(c *client) { c.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/"), nil)) }},
		{"slow", func(c *client) { c.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/slow"), nil)) }},
		{"body", func(c *client) {
			b := appendBeginRequest(nil, 1, roleResponder, flagKeepConn)
			b = appendRecord(b, typeParams, 1, postEnv("/", 3).encode())
			b, _ = appendHeader(b, typeParams, 1, 0)
			b = appendRecord(b, typeStdin, 1, []byte("abc"))
			c.mustSend(b)
			c.mustSend(appendRecord(nil, typeStdin, 1, nil))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, startServer(t, &Server{Handler: h, IdleTimeout: 50 * time.Millisecond}))
			tc.send(c)
			if r := c.results(1)[1]; r.body() != "ok" {
				t.Fatalf("answer %q", r.body())
			}
			start := time.Now()
			c.expectClosed()
			if d := time.Since(start); d < 40*time.Millisecond {
				t.Errorf("closed after %v, before the idle timeout", d)
			}
		})
	}
}

func TestReadTimeout(t *testing.T) {
	got := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		got <- err
	})
	c := dial(t, startServer(t, &Server{Handler: h, ReadTimeout: 50 * time.Millisecond}))
	b := appendBeginRequest(nil, 1, roleResponder, flagKeepConn)
	b = appendRecord(b, typeParams, 1, postEnv("/", 100).encode())
	b, _ = appendHeader(b, typeParams, 1, 0)
	b = appendRecord(b, typeStdin, 1, []byte("x"))
	c.mustSend(b) // and no more STDIN
	if err := waitFor(t, got, "the handler"); !errors.Is(err, ErrConnClosed) {
		t.Errorf("body read = %v, want ErrConnClosed", err)
	}
	c.expectClosed()
}

func TestFixIISPathInfo(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, gateway.Environ(r)["PATH_INFO"])
	})
	env := append(getEnv("/app/x"), [2]string{"SCRIPT_NAME", "/app"}, [2]string{"PATH_INFO", "/app/x"})
	for _, fix := range []bool{false, true} {
		c := dial(t, startServer(t, &Server{Handler: h, FixIISPathInfo: fix}))
		c.mustSend(requestBytes(1, roleResponder, flagKeepConn, env, nil))
		want := map[bool]string{false: "/app/x", true: "/x"}[fix]
		if r := c.results(1)[1]; r.body() != want {
			t.Errorf("FixIISPathInfo %v: PATH_INFO %q, want %q", fix, r.body(), want)
		}
	}
}

// countingListener counts the writes on the connections it accepts.
type countingListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	return countingConn{c, l.writes}, err
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestOneWrite checks that a small answer, the end of STDOUT and
// END_REQUEST leave in one write.
func TestOneWrite(t *testing.T) {
	var writes atomic.Int64
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 100 {
			io.WriteString(w, "small write ")
		}
	}), Logger: discardLogger}
	l := countingListener{listen(t), &writes}
	go s.Serve(l)
	defer s.Shutdown(context.Background())
	c := dial(t, l.Addr().String())
	c.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/"), nil))
	r := c.results(1)[1]
	if r.body() != strings.Repeat("small write ", 100) {
		t.Errorf("body %q", r.body())
	}
	if n := writes.Load(); n != 1 {
		t.Errorf("%d writes for the answer, want 1", n)
	}
}

// TestFlushStreams checks that Flush sends what the handler wrote so far.
func TestFlushStreams(t *testing.T) {
	next := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		select {
		case <-next:
		case <-time.After(testTimeout):
		}
		io.WriteString(w, "second\n")
	})
	c := dial(t, startServer(t, &Server{Handler: h}))
	c.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/"), nil))
	var got []byte
	for !bytes.HasSuffix(got, []byte("first\n")) {
		rec, err := c.rr.next()
		if err != nil || rec.typ != typeStdout || len(rec.content) == 0 {
			t.Fatalf("before the second write: %v %v %q", err, rec.typ, rec.content)
		}
		got = append(got, rec.content...)
	}
	close(next)
	r := c.results(1)[1]
	if r.stdout.String() != "second\n" || r.ends != 1 {
		t.Errorf("after the flush: %q, %d END_REQUEST", r.stdout.String(), r.ends)
	}
}

func TestMaxConns(t *testing.T) {
	addr := startServer(t, &Server{Handler: hello, MaxConns: 1})
	first := dial(t, addr)
	first.expectOpen(1)
	second := dial(t, addr) // accepted by the kernel, not yet served
	second.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/"), nil))
	second.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := second.rr.next(); !isTimeout(err) {
		t.Fatalf("second connection served while the first is open: %v", err)
	}
	second.conn.SetReadDeadline(time.Now().Add(testTimeout))
	first.conn.Close()
	if r := second.results(1)[1]; r.body() != "Hello" {
		t.Errorf("second connection: %q", r.body())
	}
}

// TestWriteTimeout checks that a web server that stops reading fails the
// handler's writes after WriteTimeout, and closes the connection.
func TestWriteTimeout(t *testing.T) {
	got := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("w"), 64<<10)
		for range 2000 { // 128 MiB at most: more than any socket buffer
			if _, err := w.Write(chunk); err != nil {
				got <- err
				return
			}
		}
		got <- nil
	})
	c := dial(t, startServer(t, &Server{Handler: h, WriteTimeout: 100 * time.Millisecond}))
	c.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/"), nil))
	if err := waitFor(t, got, "the handler"); !gateway.IsClientGone(err) || !errors.Is(err, ErrConnClosed) {
		t.Errorf("write error %v, want ErrConnClosed and a client-gone error", err)
	}
}

// TestNoKeepConnEarlyAnswer checks that a connection without
// FCGI_KEEP_CONN whose handler answers before the web server finished
// sending the body still delivers the whole answer (a lingering close, not
// a reset), then closes.
func TestNoKeepConnEarlyAnswer(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		io.WriteString(w, "too large")
	})
	c := dial(t, startServer(t, &Server{Handler: h}))
	body := bytes.Repeat([]byte("b"), 8<<20)
	b := requestBytes(1, roleResponder, 0, postEnv("/", len(body)), body)
	sent := make(chan error, 1)
	go func() { sent <- c.send(b) }()
	r := c.results(1)[1]
	if !strings.HasPrefix(r.head(), "Status: 413") || r.body() != "too large" || r.ends != 1 {
		t.Errorf("answer %q, %d END_REQUEST", r.stdout.String(), r.ends)
	}
	waitFor(t, sent, "the client's write") // it may fail once the server has closed
	c.conn.(*net.TCPConn).CloseWrite()
	c.expectClosed()
}

type ctxKey struct{}

func TestBaseContext(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Context().Value(ctxKey{}))
	})
	c := dial(t, startServer(t, &Server{Handler: h, BaseContext: func(net.Listener) context.Context {
		return context.WithValue(context.Background(), ctxKey{}, "from BaseContext")
	}}))
	c.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/"), nil))
	if r := c.results(1)[1]; r.body() != "from BaseContext" {
		t.Errorf("body %q", r.body())
	}
	s := &Server{BaseContext: func(net.Listener) context.Context { return nil }}
	if err := s.Serve(listen(t)); err == nil {
		t.Error("Serve with a nil BaseContext result succeeded")
	}
}

// TestRefusedRequestAlone: PARAMS over MaxHeaderBytes, or PARAMS that do
// not decode, get an error answer for that request alone; a request running
// on the same connection completes, and the connection goes on.
func TestRefusedRequestAlone(t *testing.T) {
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "ok")
	})
	for _, tt := range []struct {
		name, status string
		params       []byte
	}{
		{"over the limit", "Status: 431 Request Header Fields Too Large", pairs{{"X", strings.Repeat("v", 2000)}}.encode()},
		{"pair overruns its stream", "Status: 400 Bad Request", []byte{5, 10, 'A', 'B'}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, startServer(t, &Server{Handler: h, MaxHeaderBytes: 1024}))
			c.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/slow"), nil))
			b := appendBeginRequest(nil, 2, roleResponder, flagKeepConn)
			b = appendRecord(b, typeParams, 2, tt.params)
			b, _ = appendHeader(b, typeParams, 2, 0)
			b, _ = appendHeader(b, typeStdin, 2, 0)
			c.mustSend(b)
			r2 := c.results(2)[2]
			if !strings.HasPrefix(r2.head(), tt.status) || r2.end.protocolStatus != statusRequestComplete {
				t.Errorf("refused request: %q, %+v", r2.stdout.String(), r2.end)
			}
			release <- struct{}{}
			if r1 := c.results(1)[1]; r1.body() != "ok" {
				t.Errorf("neighbour answered %q", r1.stdout.String())
			}
			c.expectOpen(3)
		})
	}
}

// TestShutdownServesNewConnection: a connection accepted before Shutdown
// whose first request arrives after it began is served, as net/http serves
// one (the web server may have sent it before it saw the listener close).
func TestShutdownServesNewConnection(t *testing.T) {
	s := &Server{Handler: hello}
	addr := startServer(t, s)
	c := dial(t, addr)
	time.Sleep(100 * time.Millisecond) // accepted; no request yet
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	time.Sleep(100 * time.Millisecond) // Shutdown has begun
	c.mustSend(requestBytes(1, roleResponder, 0, getEnv("/"), nil))
	if r := c.results(1)[1]; r.body() != "Hello" {
		t.Fatalf("no answer to the request of a connection accepted before Shutdown: %q", r.stdout.String())
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestNoKeepConnDirectClose: a request without FCGI_KEEP_CONN whose input
// was read to its end, with nothing after it, closes its connection at
// once after the answer, without the lingering close that waits for the
// web server to close first (up to lingerTimeout); with bytes after its
// input, it still lingers, and the web server's close ends it.
func TestNoKeepConnDirectClose(t *testing.T) {
	closed := make(chan struct{}, 4)
	s := &Server{Handler: echo, ConnState: func(_ net.Conn, st http.ConnState) {
		if st == http.StateClosed {
			closed <- struct{}{}
		}
	}}
	addr := startServer(t, s)
	for _, tt := range []struct {
		name  string
		env   pairs
		stdin []byte
	}{
		{"no body", getEnv("/"), nil},
		{"body", postEnv("/", 3), []byte("abc")},
	} {
		c := dial(t, addr)
		c.mustSend(requestBytes(1, roleResponder, 0, tt.env, tt.stdin))
		if r := c.results(1)[1]; r.body() != string(tt.stdin) {
			t.Errorf("%s: body %q", tt.name, r.body())
		}
		c.expectClosed()
		// The client keeps its side open: only a direct close ends the
		// connection before the lingering close would give up.
		select {
		case <-closed:
		case <-time.After(lingerTimeout / 2):
			t.Fatalf("%s: the connection lingered although its input was read to its end", tt.name)
		}
		c.conn.Close()
	}

	// A record after the end of the input: the connection lingers until
	// the web server closes.
	c := dial(t, addr)
	b := requestBytes(1, roleResponder, 0, getEnv("/"), nil)
	c.mustSend(appendRecord(b, typeData, 1, nil))
	c.results(1)
	c.expectClosed()
	c.conn.(*net.TCPConn).CloseWrite()
	waitFor(t, closed, "the lingering connection's close")
}

// TestEnvironAfterReuse: a kept-alive connection decodes each request's
// PARAMS into the slice the request before it used, and an app that keeps
// a request and asks for its Environ after later requests ran still gets
// that request's own (made from its PARAMS again), with Caddy's
// CONTENT_LENGTH -1 dropped as during the request.
func TestEnvironAfterReuse(t *testing.T) {
	kept := make(chan *http.Request, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/keep" {
			kept <- r
		}
		io.WriteString(w, r.URL.Path)
	})
	c := dial(t, startServer(t, &Server{Handler: h}))
	first := append(getEnv("/keep"), [2]string{"HTTP_X_FIRST", "1"}, [2]string{"CONTENT_LENGTH", "-1"})
	c.mustSend(requestBytes(1, roleResponder, flagKeepConn, first, nil))
	if r := c.results(1)[1]; r.body() != "/keep" {
		t.Fatalf("body %q", r.body())
	}
	for i := range 3 {
		env := append(getEnv(fmt.Sprintf("/next/%d", i)), [2]string{"HTTP_X_NEXT", "2"}, [2]string{"SERVER_NAME", "other.test"})
		c.mustSend(requestBytes(1, roleResponder, flagKeepConn, env, nil))
		c.results(1)
	}
	want := environ.Environ{}
	for _, kv := range first {
		want[kv[0]] = kv[1]
	}
	delete(want, "CONTENT_LENGTH")
	if got := gateway.Environ(<-kept); !maps.Equal(got, want) {
		t.Errorf("Environ of the first request after three more = %v, want %v", got, want)
	}
}
