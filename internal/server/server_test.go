package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// testConn holds its connection open until released or closed.
type testConn struct {
	rwc      net.Conn
	release  chan struct{}
	once     sync.Once
	shutdown chan struct{}
}

func (c *testConn) Serve() {
	select {
	case <-c.release:
	case <-c.shutdown:
	}
	c.rwc.Close()
}
func (c *testConn) Shutdown()    { c.once.Do(func() { close(c.shutdown) }) }
func (c *testConn) Close() error { c.Shutdown(); return c.rwc.Close() }

func newTestServer(maxConns int) (*Server, chan *testConn) {
	started := make(chan *testConn, 100)
	s := &Server{Protocol: "test", MaxConns: maxConns}
	s.NewConn = func(ctx context.Context, rwc net.Conn) Conn {
		c := &testConn{rwc: rwc, release: make(chan struct{}), shutdown: make(chan struct{})}
		started <- c
		return c
	}
	return s, started
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func dial(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func serve(s *Server, l net.Listener) chan error {
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	return done
}

func waitConn(t *testing.T, started chan *testConn, want bool) *testConn {
	t.Helper()
	wait := 3 * time.Second
	if !want {
		wait = 200 * time.Millisecond
	}
	select {
	case c := <-started:
		if !want {
			t.Fatal("a connection was served past MaxConns")
		}
		return c
	case <-time.After(wait):
		if want {
			t.Fatal("the connection was not served")
		}
		return nil
	}
}

// TestMaxConnsAcrossListeners: MaxConns counts the connections of every
// listener of the server, not of each Serve call.
func TestMaxConnsAcrossListeners(t *testing.T) {
	s, started := newTestServer(2)
	l1, l2 := listen(t), listen(t)
	d1, d2 := serve(s, l1), serve(s, l2)
	dial(t, l1)
	first := waitConn(t, started, true)
	dial(t, l2)
	waitConn(t, started, true)
	dial(t, l1)
	dial(t, l2)
	waitConn(t, started, false)
	close(first.release)
	waitConn(t, started, true) // one waiting connection gets the freed slot
	waitConn(t, started, false)
	if n := s.Conns(); n != 2 {
		t.Errorf("%d connections served, want 2", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []chan error{d1, d2} {
		if err := <-d; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	}
}

// flakyListener fails every Accept with a temporary error.
type flakyListener struct {
	net.Listener
	accepts chan struct{}
}

// waitTracked waits until the server tracks a connection: NewConn runs
// before that, so a test that got the connection from NewConn may be ahead.
func waitTracked(t *testing.T, s *Server) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); s.Conns() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the connection was never tracked")
		}
	}
}

type tempErr struct{}

func (tempErr) Error() string   { return "temporary failure" }
func (tempErr) Temporary() bool { return true }
func (tempErr) Timeout() bool   { return false }

func (l *flakyListener) Accept() (net.Conn, error) {
	select {
	case l.accepts <- struct{}{}:
	default:
	}
	return nil, tempErr{}
}

// TestShutdownInterruptsBackoff: a server sleeping between failed accepts
// returns as soon as Shutdown begins.
func TestShutdownInterruptsBackoff(t *testing.T) {
	s, _ := newTestServer(0)
	l := &flakyListener{Listener: listen(t), accepts: make(chan struct{}, 1)}
	done := serve(s, l)
	// Let the back-off grow towards its one-second cap.
	for range 8 {
		<-l.accepts
	}
	start := time.Now()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	case <-time.After(900 * time.Millisecond):
		t.Fatalf("Serve still sleeping %v after Shutdown", time.Since(start))
	}
}

// funcListener is a listener type that cannot be compared: a map key of
// interface type would panic on it.
type funcListener struct {
	net.Listener
	hook func()
}

func TestUncomparableListener(t *testing.T) {
	s, started := newTestServer(0)
	l := funcListener{Listener: listen(t), hook: func() {}}
	done := serve(s, l)
	dial(t, l)
	c := waitConn(t, started, true)
	waitTracked(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.shutdown:
	default:
		t.Error("Shutdown did not ask the connection to close")
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
	if err := s.Serve(listen(t)); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve after Shutdown returned %v", err)
	}
}

func TestShutdownWaitsAndTimesOut(t *testing.T) {
	s, started := newTestServer(0)
	var ran sync.WaitGroup
	ran.Add(1)
	s.RegisterOnShutdown(ran.Done)
	s.NewConn = func(ctx context.Context, rwc net.Conn) Conn {
		// A connection that ignores Shutdown: only Close ends it.
		c := &testConn{rwc: rwc, release: make(chan struct{}), shutdown: make(chan struct{})}
		started <- c
		return stubborn{c}
	}
	l := listen(t)
	serve(s, l)
	dial(t, l)
	c := waitConn(t, started, true)
	waitTracked(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a busy connection returned %v", err)
	}
	ran.Wait()
	close(c.release)
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

type stubborn struct{ *testConn }

func (stubborn) Shutdown() {}

func TestAllowed(t *testing.T) {
	allowed, err := ParseAddrs([]string{" 127.0.0.1", "::1 ", "", "10.1.0.0/16", "::ffff:192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	tcp := func(s string) net.Addr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }
	for _, tt := range []struct {
		addr net.Addr
		want bool
	}{
		{tcp("127.0.0.1:9000"), true},
		{tcp("[::ffff:127.0.0.1]:9000"), true},
		{tcp("[::1]:9000"), true},
		{tcp("10.1.200.3:1"), true},
		{tcp("10.2.0.1:1"), false},
		{tcp("192.0.2.7:1"), true},
		{tcp("127.0.0.2:9000"), false},
		{tcp("[::2]:9000"), false},
		{&net.UnixAddr{Name: "/run/app.sock", Net: "unix"}, true},
	} {
		if got := Allowed(tt.addr, allowed); got != tt.want {
			t.Errorf("Allowed(%v) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	if !Allowed(tcp("192.0.2.1:1"), nil) {
		t.Error("a nil list refused an address")
	}
	if Allowed(tcp("192.0.2.1:1"), []netip.Prefix{}) {
		t.Error("an empty list admitted an address")
	}
	if _, err := ParseAddrs([]string{"localhost"}); err == nil {
		t.Error("a host name parsed as an address")
	}
}

// TestRefusedAddressFreesSlot: a refused connection does not hold a slot.
func TestRefusedAddressFreesSlot(t *testing.T) {
	s, started := newTestServer(1)
	s.AllowedAddrs = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	l := listen(t)
	serve(s, l)
	defer s.Close()
	for range 3 {
		c := dial(t, l)
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err == nil || n != 0 {
			t.Fatalf("refused connection read %d, %v", n, err)
		}
	}
	waitConn(t, started, false)
}

// lateListener hands out one connection from Accept only once gate is
// closed, whether or not the listener was closed meanwhile: the connection
// the kernel had queued and Accept returned just as Shutdown began.
type lateListener struct {
	net.Listener
	called chan struct{} // closed when Accept is first called
	gate   chan struct{}
	conn   net.Conn
	handed bool
}

func (l *lateListener) Accept() (net.Conn, error) {
	if l.handed {
		return nil, net.ErrClosed
	}
	close(l.called)
	<-l.gate
	l.handed = true
	return l.conn, nil
}

// TestAcceptedDuringShutdown: a connection Accept returns after Shutdown
// began is served, not closed unanswered (its request would be lost), and
// Shutdown waits for it; after Close, it is closed.
func TestAcceptedDuringShutdown(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxConns int
		close    bool
	}{
		{"shutdown", 0, false},
		{"shutdown/max-conns", 1, false},
		{"close", 0, true},
		{"close/max-conns", 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, started := newTestServer(tc.maxConns)
			s.NewConn = func(ctx context.Context, rwc net.Conn) Conn {
				c := &testConn{rwc: rwc, release: make(chan struct{}), shutdown: make(chan struct{})}
				started <- c
				return stubborn{c} // only release or Close ends it
			}
			ours, peer := net.Pipe()
			defer peer.Close()
			l := &lateListener{Listener: listen(t), called: make(chan struct{}), gate: make(chan struct{}), conn: ours}
			done := serve(s, l)
			<-l.called
			stopped := make(chan error, 1)
			go func() {
				if tc.close {
					stopped <- s.Close()
				} else {
					stopped <- s.Shutdown(context.Background())
				}
			}()
			for !s.Closing() {
				time.Sleep(time.Millisecond)
			}
			close(l.gate)
			if tc.close {
				if err := <-stopped; err != nil {
					t.Fatalf("Close: %v", err)
				}
				if _, err := peer.Read(make([]byte, 1)); err == nil {
					t.Error("the connection accepted after Close is still open")
				}
				return
			}
			c := waitConn(t, started, true)
			select {
			case err := <-stopped:
				t.Fatalf("Shutdown returned (%v) while the late connection was served", err)
			case <-time.After(50 * time.Millisecond):
			}
			close(c.release)
			if err := <-stopped; err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			if err := <-done; !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("Serve returned %v", err)
			}
		})
	}
}
