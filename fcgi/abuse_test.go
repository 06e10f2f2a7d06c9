package fcgi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cgiref/cgiref/internal/wine"
)

// Tests that drive the server past its limits over real sockets. Each is
// bounded in count and time.

// hold opens n connections to addr, each sending first (nothing, or a
// record cut short), and returns them.
func hold(t *testing.T, addr string, n int, first []byte) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range n {
		c, err := net.DialTimeout("tcp", addr, testTimeout)
		if err != nil {
			t.Fatalf("connection %d: %v", len(conns), err)
		}
		if len(first) > 0 {
			c.Write(first)
		}
		conns = append(conns, c)
	}
	return conns
}

// closedWithin waits until the server has closed every connection, for at
// most d.
func closedWithin(t *testing.T, conns []net.Conn, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	open := make(chan int, len(conns))
	for i, c := range conns {
		wg.Go(func() {
			c.SetReadDeadline(deadline)
			_, err := io.Copy(io.Discard, c)
			if isTimeout(err) {
				open <- i
			}
		})
	}
	wg.Wait()
	close(open)
	if n := len(open); n > 0 {
		t.Errorf("%d of %d connections still open after %v", n, len(conns), d)
	}
}

// TestIdleAndHalfSentConnsClosed: 2,000 connections that send nothing and
// 2,000 that stop inside a record are closed by the default timeouts, while
// legitimate requests keep being answered quickly.
func TestIdleAndHalfSentConnsClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("holds 4,000 connections for the default header timeout")
	}
	logs := &syncWriter{w: new(bytes.Buffer)}
	addr := startServer(t, &Server{Handler: hello, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	half := requestBytes(1, roleResponder, flagKeepConn, getEnv("/"), nil)[:20]
	start := time.Now()
	conns := append(hold(t, addr, 2000, nil), hold(t, addr, 2000, half)...)
	var slowest time.Duration
	for i := 0; time.Since(start) < DefaultReadHeaderTimeout/2; i++ {
		c := dial(t, addr)
		t0 := time.Now()
		c.mustSend(requestBytes(1, roleResponder, 0, getEnv("/"), nil))
		if r := c.results(1)[1]; r.body() != "Hello" {
			t.Fatalf("request %d answered %q", i, r.stdout.String())
		}
		slowest = max(slowest, time.Since(t0))
		c.conn.Close()
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("slowest legitimate request among 4,000 held connections: %v", slowest)
	if slowest > 100*time.Millisecond {
		t.Errorf("a legitimate request took %v", slowest)
	}
	closedWithin(t, conns, DefaultReadHeaderTimeout+5*time.Second)
	// 4,000 timeouts make one detailed record, then counts per interval.
	if n := strings.Count(logs.String(), "connection timed out"); n == 0 || n > 5 {
		t.Errorf("%d log records about timed-out connections:\n%.2000s", n, logs.String())
	}
}

// TestMaxConnsNotLockedOut: connections that hold every slot of MaxConns and
// send nothing lose their slots at the header timeout.
func TestMaxConnsNotLockedOut(t *testing.T) {
	const timeout = 500 * time.Millisecond
	addr := startServer(t, &Server{Handler: hello, MaxConns: 100, ReadHeaderTimeout: timeout})
	hold(t, addr, 100, nil)
	time.Sleep(100 * time.Millisecond) // let the server take them
	c := dial(t, addr)
	t0 := time.Now()
	c.mustSend(requestBytes(1, roleResponder, 0, getEnv("/"), nil))
	if r := c.results(1)[1]; r.body() != "Hello" {
		t.Fatalf("answered %q", r.stdout.String())
	}
	if d := time.Since(t0); d > timeout+2*time.Second {
		t.Errorf("locked out for %v, past the header timeout of %v", d, timeout)
	}
}

// heapAfterGC returns the live heap.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestBeginRequestFlood: 65,535 BEGIN_REQUESTs on one connection are
// refused past MaxConnRequests with FCGI_OVERLOADED, and the heap stays
// bounded.
func TestBeginRequestFlood(t *testing.T) {
	const heapBound = 32 << 20
	before := heapAfterGC()
	c := dial(t, startServer(t, &Server{Handler: hello}))
	var flood []byte
	for id := 1; id <= 65535; id++ {
		flood = appendBeginRequest(flood, uint16(id), roleResponder, flagKeepConn)
	}
	go c.send(flood)
	refused := 0
	for refused < 65535-DefaultMaxConnRequests {
		rec, err := c.rr.next()
		if err != nil {
			t.Fatalf("after %d refusals: %v", refused, err)
		}
		end, _ := parseEndRequest(rec.content)
		if rec.typ != typeEndRequest || end.protocolStatus != statusOverloaded {
			t.Fatalf("got %v %+v, want FCGI_OVERLOADED", rec.typ, end)
		}
		refused++
	}
	grown := int64(heapAfterGC()) - int64(before)
	t.Logf("%d requests refused; heap grew by %d KiB (bound %d KiB)", refused, grown>>10, heapBound>>10)
	if grown > heapBound {
		t.Errorf("heap grew by %d bytes", grown)
	}
}

// TestBodyCapNonReadingHandler: 1 GiB streamed to a handler that never
// reads its body ends at the body cap: the temporary file stays under it
// and the handler's later read fails with *http.MaxBytesError.
func TestBodyCapNonReadingHandler(t *testing.T) {
	const limit = 32 << 20
	dir := wine.TempDir(t)
	release := make(chan struct{})
	readErr := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		_, err := io.Copy(io.Discard, r.Body)
		readErr <- err
		io.WriteString(w, "done")
	})
	c := dial(t, startServer(t, &Server{Handler: h, MaxBodyBytes: limit, TempDir: dir}))
	c.conn.SetDeadline(time.Now().Add(4 * testTimeout))
	b := appendBeginRequest(nil, 1, roleResponder, flagKeepConn)
	b = appendRecord(b, typeParams, 1, getEnv("/").encode()) // no CONTENT_LENGTH: chunked
	b, _ = appendHeader(b, typeParams, 1, 0)
	c.mustSend(b)
	chunk := appendRecord(nil, typeStdin, 1, make([]byte, maxWrite))
	var peak int64
	for sent := 0; sent < 1<<30; sent += maxWrite {
		c.mustSend(chunk)
		if sent%(64<<20) == 0 {
			peak = max(peak, dirSize(t, dir))
		}
	}
	end, _ := appendHeader(nil, typeStdin, 1, 0)
	c.mustSend(end)
	peak = max(peak, dirSize(t, dir))
	close(release)
	var mbe *http.MaxBytesError
	if err := waitFor(t, readErr, "the handler's read"); !errors.As(err, &mbe) || mbe.Limit != limit {
		t.Errorf("body read = %v, want an *http.MaxBytesError", err)
	}
	if r := c.results(1)[1]; r.body() != "done" {
		t.Errorf("answer %q", r.stdout.String())
	}
	t.Logf("1 GiB sent; temporary files peaked at %d MiB (cap %d MiB)", peak>>20, limit>>20)
	if peak > limit {
		t.Errorf("temporary files reached %d bytes, past the cap of %d", peak, limit)
	}
}

func dirSize(t *testing.T, dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}

// TestDeclaredBodyTooLarge: a CONTENT_LENGTH past MaxBodyBytes is answered
// 413 without running the handler.
func TestDeclaredBodyTooLarge(t *testing.T) {
	ran := make(chan string, 2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran <- r.URL.Path })
	c := dial(t, startServer(t, &Server{Handler: h, MaxBodyBytes: 100}))
	c.mustSend(requestBytes(1, roleResponder, flagKeepConn, postEnv("/", 101), make([]byte, 101)))
	if r := c.results(1)[1]; !strings.HasPrefix(r.head(), "Status: 413 ") {
		t.Errorf("answered %q", r.stdout.String())
	}
	c.expectOpen(2)
	if p := <-ran; p != "/still-open" {
		t.Errorf("the handler ran for %s", p)
	}
}

// TestRequestTimeoutThenShutdown: a handler that never returns is ended at
// RequestTimeout with 503, and Shutdown then completes within its context.
func TestRequestTimeoutThenShutdown(t *testing.T) {
	stuck := make(chan struct{})
	defer close(stuck)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-stuck })
	s := &Server{Handler: h, RequestTimeout: 200 * time.Millisecond}
	l := listen(t)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	c := dial(t, l.Addr().String())
	c.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/"), nil))
	if r := c.results(1)[1]; !strings.HasPrefix(r.head(), "Status: 503 ") || r.ends != 1 {
		t.Errorf("answered %q, %d END_REQUEST", r.stdout.String(), r.ends)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v", err)
	}
}

// TestParamsBurstMemoryReturns: 300 requests that each send 0.93 MiB of
// PARAMS and stop are refused past MaxHeaderMemory, and once their
// connections close the heap is back under a bound.
func TestParamsBurstMemoryReturns(t *testing.T) {
	const heapBound = 16 << 20
	before := heapAfterGC()
	// A header timeout long enough that a slow machine times out none of
	// the connections while they send.
	s := &Server{Handler: hello, ReadHeaderTimeout: 2 * time.Minute}
	addr := startServer(t, s)
	big := pairs{{"HTTP_X_BIG", strings.Repeat("v", 950<<10)}}.encode()
	var conns []*client
	refused := 0
	for range 300 {
		c := dial(t, addr)
		b := appendBeginRequest(nil, 1, roleResponder, flagKeepConn)
		for p := big; len(p) > 0; {
			n := min(len(p), maxWrite)
			b = appendRecord(b, typeParams, 1, p[:n])
			p = p[n:]
		}
		go c.send(b) // PARAMS never end
		conns = append(conns, c)
	}
	want := int64(300 - DefaultMaxHeaderMemory/(950<<10) - 1)
	for deadline := time.Now().Add(9 * testTimeout); s.Stats().Refusals["header_memory"] < want && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range conns {
		c.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if rec, err := c.rr.next(); err == nil && rec.typ == typeStdout && strings.Contains(string(rec.content), "503") {
			refused++
		}
	}
	for _, c := range conns {
		c.conn.Close()
	}
	time.Sleep(500 * time.Millisecond) // let the server see the closes
	grown := int64(heapAfterGC()) - int64(before)
	t.Logf("%d of 300 refused past MaxHeaderMemory; heap %+d KiB after the connections closed (bound %d KiB)", refused, grown>>10, heapBound>>10)
	if int64(refused) < want {
		t.Errorf("only %d requests refused, want %d or more", refused, want)
	}
	if grown > heapBound {
		t.Errorf("heap stayed %d bytes above its start", grown)
	}
}
