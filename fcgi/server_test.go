package fcgi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cgiref/cgiref/gateway"
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
		{"unlimited", &Server{}, pairs{{"FCGI_MAX_REQS", ""}}, pairs{{"FCGI_MAX_REQS", unlimited}}},
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
	overrun := appendBeginRequest(nil, 1, roleResponder, flagKeepConn)
	overrun = appendRecord(overrun, typeParams, 1, []byte{5, 10, 'A', 'B'})
	overrun, _ = appendHeader(overrun, typeParams, 1, 0)
	badVersion := appendBeginRequest(nil, 1, roleResponder, flagKeepConn)
	badVersion[0] = 2
	big := appendBeginRequest(nil, 1, roleResponder, flagKeepConn)
	big = appendRecord(big, typeParams, 1, pairs{{"X", strings.Repeat("v", 2000)}}.encode())
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
		{"pair overruns its stream", overrun},
		{"params over the limit", big},
		{"BEGIN_REQUEST with id 0", appendBeginRequest(nil, 0, roleResponder, flagKeepConn)},
		{"BEGIN_REQUEST for a request in flight", dup},
		{"short BEGIN_REQUEST body", shortBegin},
		{"bad GET_VALUES", appendRecord(nil, typeGetValues, 0, []byte{0x80, 1})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &syncWriter{w: new(bytes.Buffer)}
			addr := startServer(t, &Server{Handler: hello, MaxParamsBytes: 1024,
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

var _ = time.Second
