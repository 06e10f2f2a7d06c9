package fcgi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"testing"
)

// ranInline reports whether the calling handler runs on its connection's
// read loop goroutine (conn.runInline).
func ranInline() bool { return bytes.Contains(debug.Stack(), []byte("runInline")) }

// TestInline: a request alone on its connection whose input is complete
// runs on the read loop's goroutine, and what arrives meanwhile is still
// acted on at once: ABORT_REQUEST and the web server's close cancel it, a
// second (multiplexed) request runs beside it, and the connection serves
// on afterwards.
func TestInline(t *testing.T) {
	type result struct {
		inline bool
		cause  error
	}
	for _, tt := range []struct {
		name      string
		meanwhile func(c *client)
		cause     error // nil: the handler is released, not cancelled
	}{
		{"abort", func(c *client) { c.mustSend(appendRecord(nil, typeAbortRequest, 1, nil)) }, ErrRequestAborted},
		{"close", func(c *client) { c.conn.Close() }, ErrConnClosed},
		{"half-close", func(c *client) { c.conn.(*net.TCPConn).CloseWrite() }, ErrConnClosed},
		{"multiplexed", func(c *client) {
			c.mustSend(requestBytes(2, roleResponder, flagKeepConn, getEnv("/quick"), nil))
			if r := c.results(2)[2]; r.body() != "quick" {
				t.Errorf("the request beside the inline one answered %q", r.body())
			}
		}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan result, 1)
			started := make(chan struct{})
			release := make(chan struct{})
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/quick":
					io.WriteString(w, "quick")
					return
				case "/block":
					close(started)
					select {
					case <-r.Context().Done():
					case <-release:
					}
					got <- result{ranInline(), context.Cause(r.Context())}
				}
				io.WriteString(w, "ok")
			})
			c := dial(t, startServer(t, &Server{Handler: h}))
			c.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/block"), nil))
			waitFor(t, started, "the handler")
			tt.meanwhile(c)
			if tt.cause == nil {
				close(release)
			}
			res := waitFor(t, got, "the handler's end")
			if !res.inline {
				t.Error("the request did not run on the read loop's goroutine")
			}
			if !errors.Is(res.cause, tt.cause) {
				t.Errorf("context cause %v, want %v", res.cause, tt.cause)
			}
			if tt.cause == ErrConnClosed {
				return
			}
			r := c.results(1)[1]
			if wantStatus := tt.cause != nil; (r.end.appStatus != 0) != wantStatus || r.ends != 1 {
				t.Errorf("END_REQUEST %+v (%d), want an application status != 0: %v", r.end, r.ends, wantStatus)
			}
			c.expectOpen(3)
			c.expectOpen(4)
		})
	}
}

// TestInlineOnlyAlone: requests whose body still arrives, or that share
// their connection, run in goroutines of their own.
func TestInlineOnlyAlone(t *testing.T) {
	var mu sync.Mutex
	inline := make(map[string]bool)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inline[r.URL.Path] = ranInline()
		mu.Unlock()
		io.Copy(w, r.Body)
	})
	c := dial(t, startServer(t, &Server{Handler: h}))
	c.mustSend(requestBytes(1, roleResponder, flagKeepConn, postEnv("/body", 3), []byte("abc")))
	if r := c.results(1)[1]; r.body() != "abc" {
		t.Errorf("body %q", r.body())
	}
	b := requestBytes(2, roleResponder, flagKeepConn, getEnv("/followed"), nil)
	c.mustSend(append(b, requestBytes(3, roleResponder, flagKeepConn, getEnv("/second"), nil)...))
	c.results(2, 3)
	c.mustSend(requestBytes(4, roleResponder, flagKeepConn, getEnv("/alone"), nil))
	c.results(4)
	mu.Lock()
	defer mu.Unlock()
	if inline["/body"] {
		t.Error("a request whose body was still arriving ran on the read loop")
	}
	if inline["/followed"] {
		t.Error("a request followed by another ran on the read loop")
	}
	if !inline["/alone"] {
		t.Error("a request alone with its input complete did not run on the read loop")
	}
}
