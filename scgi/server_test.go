package scgi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cgiref/cgiref/gateway"
	"github.com/cgiref/cgiref/internal/wine"
)

// testTimeout bounds every wait of these tests.
const testTimeout = 10 * time.Second

// startServer serves h on a loopback listener with the options set by
// configure, and shuts the server down when the test ends.
func startServer(t *testing.T, h http.Handler, configure func(*Server)) (*Server, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, l, h, configure), l.Addr().String()
}

func serveOn(t *testing.T, l net.Listener, h http.Handler, configure func(*Server)) *Server {
	t.Helper()
	s := &Server{Handler: h, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))}
	if configure != nil {
		configure(s)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != http.ErrServerClosed {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	})
	return s
}

// testWriter sends the server's log to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// scgiRequest returns an SCGI request for method and uri with body; extra are
// more header pairs.
func scgiRequest(method, uri string, body []byte, extra ...string) []byte {
	pairs := append([]string{
		"CONTENT_LENGTH", fmt.Sprint(len(body)), "SCGI", "1",
		"REQUEST_METHOD", method, "REQUEST_URI", uri, "SERVER_PROTOCOL", "HTTP/1.1",
		"SERVER_NAME", "localhost", "SERVER_PORT", "80", "REMOTE_ADDR", "127.0.0.1",
		"CONTENT_TYPE", "application/octet-stream",
	}, extra...)
	return append([]byte(netstring(pairs...)), body...)
}

// dial connects to addr with a deadline of testTimeout.
func dial(t *testing.T, network, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout(network, addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(testTimeout))
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends req on a new connection (concurrently with reading) and
// returns everything the server answers until it closes the connection.
func roundTrip(t *testing.T, network, addr string, req []byte) []byte {
	t.Helper()
	c := dial(t, network, addr)
	defer c.Close()
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(req)
		werr <- err
	}()
	out, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("writing the request: %v", err)
	}
	return out
}

// splitAnswer splits a CGI answer into its header and body.
func splitAnswer(t *testing.T, out []byte) (string, []byte) {
	t.Helper()
	head, body, ok := bytes.Cut(out, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("no end of header in answer %.200q", out)
	}
	return string(head), body
}

var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	if _, err := io.Copy(w, r.Body); err != nil {
		panic(err)
	}
})

func TestServeBodies(t *testing.T) {
	_, addr := startServer(t, echo, nil)
	for _, size := range []int{0, 1, 64 << 10, 10 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			body := make([]byte, size)
			for i := range body {
				body[i] = byte(i*7 + i>>8)
			}
			head, got := splitAnswer(t, roundTrip(t, "tcp", addr, scgiRequest("POST", "/echo", body)))
			if !strings.HasPrefix(head, "Status: 200 OK\r\n") {
				t.Errorf("header %q, want Status: 200 OK first", head)
			}
			if !bytes.Equal(got, body) {
				t.Errorf("echoed %d bytes, want %d, equal: false", len(got), len(body))
			}
		})
	}
}

func TestServeHello(t *testing.T) {
	var env map[string]string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env = gateway.Environ(r)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "Hello")
	})
	_, addr := startServer(t, h, nil)
	out := roundTrip(t, "tcp", addr, scgiRequest("GET", "/hello?x=1", nil, "HTTP_X_A", "b"))
	want := "Status: 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nHello"
	if string(out) != want {
		t.Errorf("answer %q, want %q", out, want)
	}
	if env["HTTP_X_A"] != "b" || env["SCGI"] != "1" || env["REQUEST_URI"] != "/hello?x=1" {
		t.Errorf("environ %q", env)
	}
}

func TestUnixSocket(t *testing.T) {
	path := filepath.Join(wine.TempDir(t), "scgi.sock")
	l, err := net.Listen("unix", path)
	wine.SkipUnixSockets(t, err)
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, l, echo, nil)
	_, got := splitAnswer(t, roundTrip(t, "unix", path, scgiRequest("POST", "/", []byte("over unix"))))
	if string(got) != "over unix" {
		t.Errorf("body %q", got)
	}
}

func TestShortBody(t *testing.T) {
	errc := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		errc <- err
	})
	_, addr := startServer(t, h, nil)
	req := scgiRequest("POST", "/", make([]byte, 100))
	c := dial(t, "tcp", addr)
	if _, err := c.Write(req[:len(req)-90]); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	select {
	case err := <-errc:
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("app read error %v, want io.ErrUnexpectedEOF", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("handler not called")
	}
	io.ReadAll(c)
}

func TestMalformed(t *testing.T) {
	called := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called <- struct{}{} })
	_, addr := startServer(t, h, func(s *Server) { s.MaxHeaderBytes = 1000 })
	bad := func(reason string) string {
		body := "Bad Request: " + reason + "\n"
		return fmt.Sprintf("Status: 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	}
	tests := []struct {
		name, in   string
		closeWrite bool
		want       string
	}{
		{"HTTP request", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", false, bad("header block is not a netstring (length digits expected)")},
		{"leading zero", "024:" + netstring("CONTENT_LENGTH", "0", "SCGI", "1")[3:], false, bad("netstring length has a leading zero")},
		{"missing comma", strings.TrimSuffix(netstring("CONTENT_LENGTH", "0", "SCGI", "1"), ",") + "X", false, bad("netstring not terminated by ','")},
		{"no SCGI", netstring("CONTENT_LENGTH", "0", "REQUEST_METHOD", "GET"), false, bad("SCGI header missing")},
		{"CONTENT_LENGTH not first", netstring("SCGI", "1", "CONTENT_LENGTH", "0"), false, bad("first header is not CONTENT_LENGTH")},
		{"oversize with a body following", "2000:" + strings.Repeat("x", 300<<10), false, bad("header block exceeds the size limit")},
		{"too many digits", "10000", false, bad("netstring length has too many digits")},
		{"truncated", "24:CONTENT_LENGTH", true, bad("header block cut short")},
		{"closed before a byte", "", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, "tcp", addr)
			go func() {
				c.Write([]byte(tt.in))
				if tt.closeWrite {
					c.(*net.TCPConn).CloseWrite()
				}
			}()
			out, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			if string(out) != tt.want {
				t.Errorf("answer %q, want %q", out, tt.want)
			}
		})
	}
	select {
	case <-called:
		t.Error("handler called for a malformed request")
	default:
	}
}

func TestPanicWhileAnotherRequestRuns(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/panic":
			panic("boom")
		case "/slow":
			close(entered)
			<-release
			io.WriteString(w, "slow done")
		}
	})
	_, addr := startServer(t, h, func(s *Server) { s.Logger = slog.New(slog.DiscardHandler) })
	slow := make(chan []byte, 1)
	go func() {
		c, err := net.DialTimeout("tcp", addr, testTimeout)
		if err != nil {
			slow <- nil
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(testTimeout))
		c.Write(scgiRequest("GET", "/slow", nil))
		out, _ := io.ReadAll(c)
		slow <- out
	}()
	select {
	case <-entered:
	case <-time.After(testTimeout):
		t.Fatal("slow request not started")
	}
	head, body := splitAnswer(t, roundTrip(t, "tcp", addr, scgiRequest("GET", "/panic", nil)))
	if !strings.HasPrefix(head, "Status: 500 Internal Server Error\r\n") {
		t.Errorf("panic answer header %q", head)
	}
	if want := "A server error occurred.  Please contact the administrator."; string(body) != want {
		t.Errorf("panic answer body %q, want %q", body, want)
	}
	close(release)
	head, body = splitAnswer(t, <-slow)
	if !strings.HasPrefix(head, "Status: 200 OK\r\n") || string(body) != "slow done" {
		t.Errorf("slow answer %q %q", head, body)
	}
}

func TestShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/quick" {
			io.WriteString(w, "quick")
			return
		}
		close(entered)
		<-release
		io.WriteString(w, "finished")
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: h, Logger: slog.New(slog.DiscardHandler)}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	addr := l.Addr().String()

	busy := dial(t, "tcp", addr)
	busy.Write(scgiRequest("GET", "/", nil))
	<-entered
	waiting := dial(t, "tcp", addr)
	quick := scgiRequest("GET", "/quick", nil)
	waiting.Write(quick[:10])         // a header still awaited
	time.Sleep(50 * time.Millisecond) // let the server read it

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Errorf("Shutdown with a request in flight = %v, want context.DeadlineExceeded", err)
	}
	// The rest of the header arrives during the shutdown: the connection
	// is served, as net/http serves a new connection's first request.
	waiting.Write(quick[10:])
	if out, err := io.ReadAll(waiting); err != nil || !bytes.HasSuffix(out, []byte("quick")) {
		t.Errorf("connection awaiting its header: read %q, %v; want its answer", out, err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("listener still accepts after Shutdown")
	}
	select {
	case err := <-served:
		if err != http.ErrServerClosed {
			t.Errorf("Serve = %v, want http.ErrServerClosed", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Serve did not return")
	}

	close(release)
	out, err := io.ReadAll(busy)
	if err != nil {
		t.Fatal(err)
	}
	if _, body := splitAnswer(t, out); string(body) != "finished" {
		t.Errorf("in-flight request answered %q", out)
	}
	busy.Close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), testTimeout)
	defer cancel2()
	if err := s.Shutdown(ctx2); err != nil {
		t.Errorf("second Shutdown = %v", err)
	}
	if err := s.Serve(l); err != http.ErrServerClosed {
		t.Errorf("Serve after Shutdown = %v, want http.ErrServerClosed", err)
	}
}

// TestContextCancelledOnClose: a web server that resets the connection
// cancels the request at once; one that closes it (which looks like a
// half-close from here) cancels it with the first write that fails.
func TestContextCancelledOnClose(t *testing.T) {
	type result struct {
		cause    error
		writeErr error
	}
	for _, tt := range []struct {
		name  string
		reset bool
	}{{"reset", true}, {"close", false}} {
		results := make(chan result, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body)
			var err error
			deadline := time.Now().Add(testTimeout)
			for err == nil && r.Context().Err() == nil && time.Now().Before(deadline) {
				if !tt.reset {
					_, err = w.Write(bytes.Repeat([]byte("x"), 64<<10))
					if err == nil {
						err = http.NewResponseController(w).Flush()
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err == nil {
				_, err = w.Write(bytes.Repeat([]byte("x"), 64<<10))
				if err == nil {
					err = http.NewResponseController(w).Flush()
				}
			}
			results <- result{context.Cause(r.Context()), err}
		})
		_, addr := startServer(t, h, func(s *Server) { s.Logger = slog.New(slog.DiscardHandler) })
		for _, body := range []string{"", "some body"} {
			c := dial(t, "tcp", addr)
			c.Write(scgiRequest("POST", "/", []byte(body)))
			time.Sleep(20 * time.Millisecond)
			if tt.reset {
				c.(*net.TCPConn).SetLinger(0)
			}
			c.Close()
			res := <-results
			if !errors.Is(res.cause, ErrConnClosed) {
				t.Errorf("%s, body %q: context cause %v, want ErrConnClosed", tt.name, body, res.cause)
			}
			if res.writeErr == nil || !gateway.IsClientGone(res.writeErr) {
				t.Errorf("%s, body %q: write after close = %v, want an error IsClientGone accepts", tt.name, body, res.writeErr)
			}
		}
	}
}

// TestHalfCloseIsNotGone: a web server that half-closes its side after the
// request (flup does) gets the whole streamed answer, every time.
func TestHalfCloseIsNotGone(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 5 {
			fmt.Fprintf(w, "chunk %d\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(5 * time.Millisecond)
		}
		if err := context.Cause(r.Context()); err != nil {
			fmt.Fprintf(w, "cancelled: %v\n", err)
		}
	})
	_, addr := startServer(t, h, nil)
	for i := range 20 {
		c := dial(t, "tcp", addr)
		c.Write(scgiRequest("GET", "/", nil))
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(testTimeout))
		got, err := io.ReadAll(c)
		_, body := splitAnswer(t, got)
		if err != nil || string(body) != "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n" {
			t.Fatalf("round %d: %v, body %q", i, err, body)
		}
	}
}

func TestContextNotCancelledWhileBodyUnread(t *testing.T) {
	// The watch for a closed connection starts only once the body is read:
	// it must not take body bytes from the app.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
		if err := r.Context().Err(); err != nil {
			t.Errorf("context done before the body was read: %v", err)
		}
		io.Copy(w, r.Body)
	})
	_, addr := startServer(t, h, nil)
	_, got := splitAnswer(t, roundTrip(t, "tcp", addr, scgiRequest("POST", "/", []byte("kept whole"))))
	if string(got) != "kept whole" {
		t.Errorf("body %q", got)
	}
}

func TestAllowedAddrs(t *testing.T) {
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") })
	tests := []struct {
		name    string
		allowed []netip.Prefix
		served  bool
	}{
		{"nil allows all", nil, true},
		{"loopback", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, true},
		{"exact", []netip.Prefix{netip.MustParsePrefix("10.1.2.3/32"), netip.MustParsePrefix("127.0.0.1/32")}, true},
		{"other network", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, false},
		{"empty list", []netip.Prefix{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, addr := startServer(t, hello, func(s *Server) { s.AllowedAddrs = tt.allowed })
			c := dial(t, "tcp", addr)
			c.Write(scgiRequest("GET", "/", nil))
			out, err := io.ReadAll(c)
			if err != nil && !gateway.IsClientGone(err) { // a reset: ECONNRESET, or WSAECONNRESET on Windows
				t.Fatalf("reading the answer: %v", err)
			}
			served := err == nil && bytes.HasSuffix(out, []byte("\r\n\r\nhi"))
			if served != tt.served || !served && len(out) > 0 {
				t.Errorf("served = %v (answer %q, err %v), want %v", served, out, err, tt.served)
			}
		})
	}
}

func TestHeaderTimeout(t *testing.T) {
	_, addr := startServer(t, echo, func(s *Server) { s.ReadHeaderTimeout = 100 * time.Millisecond })
	c := dial(t, "tcp", addr)
	c.Write([]byte("24:CONTENT"))
	start := time.Now()
	out, err := io.ReadAll(c)
	if err != nil || len(out) != 0 {
		t.Errorf("read %q, %v; want the connection closed without an answer", out, err)
	}
	if d := time.Since(start); d > testTimeout/2 {
		t.Errorf("closed after %v", d)
	}
}

func TestReadTimeout(t *testing.T) {
	errc := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		errc <- err
	})
	_, addr := startServer(t, h, func(s *Server) { s.ReadTimeout = 100 * time.Millisecond })
	c := dial(t, "tcp", addr)
	req := scgiRequest("POST", "/", make([]byte, 10))
	c.Write(req[:len(req)-5]) // the rest never comes
	select {
	case err := <-errc:
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("body read error %v, want a timeout", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("body read did not time out")
	}
}

func TestMaxConns(t *testing.T) {
	var mu sync.Mutex
	running, peak := 0, 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		running++
		peak = max(peak, running)
		mu.Unlock()
		time.Sleep(30 * time.Millisecond)
		mu.Lock()
		running--
		mu.Unlock()
	})
	_, addr := startServer(t, h, func(s *Server) { s.MaxConns = 2 })
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() { roundTrip(t, "tcp", addr, scgiRequest("GET", "/", nil)) })
	}
	wg.Wait()
	if peak != 2 {
		t.Errorf("peak concurrency %d, want 2", peak)
	}
}

func TestUnreadBody(t *testing.T) {
	// An app that answers without reading a large body: the answer must
	// reach the web server whole, not be lost to a reset connection.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ignored") })
	_, addr := startServer(t, h, nil)
	for _, size := range []int{10, 4 << 20} {
		head, body := splitAnswer(t, roundTrip(t, "tcp", addr, scgiRequest("POST", "/", make([]byte, size))))
		if !strings.HasPrefix(head, "Status: 200 OK\r\n") || string(body) != "ignored" {
			t.Errorf("size %d: answer %q %q", size, head, body)
		}
	}
}

func TestWriteTimeout(t *testing.T) {
	errc := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 1<<20)
		for range 256 { // far more than the socket buffers hold
			if _, err := w.Write(chunk); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	})
	_, addr := startServer(t, h, func(s *Server) {
		s.WriteTimeout = 200 * time.Millisecond
		s.Logger = slog.New(slog.DiscardHandler)
	})
	c := dial(t, "tcp", addr)
	c.Write(scgiRequest("GET", "/", nil)) // and never read the answer
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("write error %v, want a deadline error", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("write did not time out")
	}
}
