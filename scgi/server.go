package scgi

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultHeaderTimeout is how long a Server waits for a header block when
// its HeaderTimeout is zero.
const DefaultHeaderTimeout = 30 * time.Second

// Limits of the lingering close: after an answer, the rest of an unread body
// and whatever else the web server sends is read and thrown away for at most
// lingerTimeout (after a 400 for a bad header, at most maxDrain bytes), so
// that closing the socket with unread bytes does not reset the connection
// before the web server has read the answer.
const (
	lingerTimeout = 2 * time.Second
	maxDrain      = 256 << 10
)

// ErrConnClosed is the cause of a request's context (context.Cause) when the
// web server closed or broke the connection before the answer was complete.
// Writes after that fail with an error matching both ErrConnClosed and
// net.ErrClosed.
var ErrConnClosed = errors.New("scgi: connection closed by the web server")

// Serve accepts SCGI connections on l and runs handler for each request,
// with a Server's defaults. A nil handler means http.DefaultServeMux. Serve
// returns when Accept fails for good.
func Serve(l net.Listener, handler http.Handler) error {
	s := &Server{Handler: handler}
	return s.Serve(l)
}

// A Server serves SCGI requests. The zero value is ready to use; its fields
// must not change once Serve has been called.
//
// Every connection carries one request; the connection is closed after the
// answer, so there is no idle time between requests to limit.
type Server struct {
	// Handler answers the requests; nil means http.DefaultServeMux.
	Handler http.Handler

	// MaxConns is how many connections are served at once; further ones
	// wait in the listener's backlog. Zero means no limit.
	MaxConns int

	// MaxHeaderBytes is the largest header block accepted; a netstring
	// declaring more is refused as soon as its length digits are read. Zero
	// means DefaultMaxHeaderBytes.
	MaxHeaderBytes int

	// HeaderTimeout is how long a new connection may take to send its whole
	// header block. Zero means DefaultHeaderTimeout; a negative value, no
	// limit.
	HeaderTimeout time.Duration

	// ReadTimeout is how long each read of the request body may wait for
	// bytes from the web server; a read that times out fails and cancels the
	// request's context. Zero means no limit.
	ReadTimeout time.Duration

	// WriteTimeout is how long the handler has to write its whole answer,
	// from the end of the header block. Zero means no limit.
	WriteTimeout time.Duration

	// AllowedAddrs lists the network prefixes TCP connections may come from;
	// others are closed at once, unanswered. Nil admits every address.
	// Connections over a unix socket are always admitted: the socket file's
	// permissions guard them. SCGI carries no authentication, so whoever
	// reaches the socket is trusted with every CGI variable it sends: listen
	// on a unix socket or a loopback address, and list the web server's
	// address here when it is elsewhere.
	AllowedAddrs []netip.Prefix

	// SpoolMemory is passed to gateway.Handler.SpoolMemory: how much of an
	// unread request body is held in memory before spooling to a file.
	SpoolMemory int64

	// Logger receives connection errors and the applications' error output
	// (gateway.Errors); nil means slog.Default().
	Logger *slog.Logger

	mu         sync.Mutex
	listeners  map[*net.Listener]struct{}
	conns      map[*conn]struct{}
	inShutdown atomic.Bool
	closing    chan struct{} // closed by Shutdown; created lazily under mu
	sem        chan struct{} // a slot per connection served, when MaxConns > 0
	readers    sync.Pool     // *bufio.Reader
	writers    sync.Pool     // *bufio.Writer
}

func (s *Server) handler() http.Handler {
	if s.Handler == nil {
		return http.DefaultServeMux
	}
	return s.Handler
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func (s *Server) maxHeaderBytes() int {
	if s.MaxHeaderBytes <= 0 {
		return DefaultMaxHeaderBytes
	}
	return s.MaxHeaderBytes
}

func (s *Server) headerTimeout() time.Duration {
	if s.HeaderTimeout == 0 {
		return DefaultHeaderTimeout
	}
	return s.HeaderTimeout
}

// closingChan returns the channel Shutdown closes. s.mu must be held.
func (s *Server) closingChan() chan struct{} {
	if s.closing == nil {
		s.closing = make(chan struct{})
	}
	return s.closing
}

// allowed reports whether a connection from addr may be served.
func (s *Server) allowed(addr net.Addr) bool {
	if s.AllowedAddrs == nil {
		return true
	}
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return true // a unix socket: guarded by its file's permissions
	}
	ip := tcp.AddrPort().Addr()
	for _, p := range s.AllowedAddrs {
		if p.Contains(ip) || p.Contains(ip.Unmap()) {
			return true
		}
	}
	return false
}

// Serve accepts connections on l and serves each in its own goroutine. It
// returns http.ErrServerClosed after Shutdown, or the error that made Accept
// fail for good. Serve may be called on several listeners at once.
func (s *Server) Serve(l net.Listener) error {
	if !s.trackListener(&l, true) {
		return http.ErrServerClosed
	}
	defer s.trackListener(&l, false)

	s.mu.Lock()
	closing := s.closingChan()
	if s.MaxConns > 0 && s.sem == nil {
		s.sem = make(chan struct{}, s.MaxConns)
	}
	sem := s.sem
	s.mu.Unlock()

	var delay time.Duration
	for {
		if sem != nil {
			select {
			case sem <- struct{}{}:
			case <-closing:
				return http.ErrServerClosed
			}
		}
		rw, err := l.Accept()
		if err != nil {
			if sem != nil {
				<-sem
			}
			if s.inShutdown.Load() {
				return http.ErrServerClosed
			}
			if te, ok := err.(interface{ Temporary() bool }); ok && te.Temporary() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logger().Error("scgi: accept failed; retrying", "err", err, "delay", delay)
				select {
				case <-time.After(delay):
				case <-closing:
					return http.ErrServerClosed
				}
				continue
			}
			return err
		}
		delay = 0
		if !s.allowed(rw.RemoteAddr()) {
			s.logger().Warn("scgi: connection refused: address not allowed", "remote", rw.RemoteAddr().String())
			rw.Close()
			if sem != nil {
				<-sem
			}
			continue
		}
		c := s.newConn(rw)
		if !s.trackConn(c, true) {
			rw.Close()
			if sem != nil {
				<-sem
			}
			return http.ErrServerClosed
		}
		go func() {
			defer func() {
				if sem != nil {
					<-sem
				}
			}()
			defer s.trackConn(c, false)
			c.serve()
		}()
	}
}

// trackListener adds or removes l; adding fails once Shutdown has begun.
func (s *Server) trackListener(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, l)
		return true
	}
	if s.inShutdown.Load() {
		return false
	}
	if s.listeners == nil {
		s.listeners = make(map[*net.Listener]struct{})
	}
	s.listeners[l] = struct{}{}
	return true
}

// trackConn adds or removes c; adding fails once Shutdown has begun.
func (s *Server) trackConn(c *conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.conns, c)
		return true
	}
	if s.inShutdown.Load() {
		return false
	}
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	s.conns[c] = struct{}{}
	return true
}

// startRequest marks c as running a request, so that Shutdown lets it
// finish. It fails when Shutdown closed c while its header was awaited.
func (s *Server) startRequest(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.closed {
		return false
	}
	c.active = true
	return true
}

// Shutdown stops the server gracefully: it closes the listeners, closes the
// connections still waiting for their header block, and waits until the
// requests in flight have finished and their connections are closed. When
// ctx ends first it returns ctx.Err(), leaving those requests running.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.inShutdown.Swap(true) {
		close(s.closingChan())
	}
	var err error
	for l := range s.listeners {
		if cerr := (*l).Close(); cerr != nil && err == nil && !errors.Is(cerr, net.ErrClosed) {
			err = cerr
		}
	}
	for c := range s.conns {
		if !c.active && !c.closed {
			c.closed = true
			c.rwc.Close()
		}
	}
	s.mu.Unlock()

	poll := time.Millisecond
	timer := time.NewTimer(poll)
	defer timer.Stop()
	for {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			poll = min(2*poll, 100*time.Millisecond)
			timer.Reset(poll)
		}
	}
}

// newConn wraps an accepted connection.
func (s *Server) newConn(rwc net.Conn) *conn {
	br, _ := s.readers.Get().(*bufio.Reader)
	if br == nil {
		br = bufio.NewReaderSize(rwc, 4096)
	} else {
		br.Reset(rwc)
	}
	return &conn{srv: s, rwc: rwc, br: br}
}
