// Package server is the substrate the FastCGI and SCGI servers share: one
// accept loop with one connection limit per server, an accept back-off that
// Shutdown interrupts, the address allow-list, listener and connection
// tracking keyed by pointer as net/http keys them, and Shutdown, Close and
// RegisterOnShutdown with net/http's meaning.
//
// A protocol supplies only what happens on one connection (a Conn); the
// substrate decides which connections are served and when the server stops.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cgiref/cgiref/internal/ratelog"
	"github.com/cgiref/cgiref/internal/stats"
)

// A Conn is one accepted connection, served by a protocol.
type Conn interface {
	// Serve serves the connection until it is done and closed.
	Serve()
	// Shutdown asks the connection to close: at once when it is idle,
	// else once the requests it is serving have ended. A connection that
	// has not begun its first request is idle once it is NewConnGrace old.
	// Shutdown may be called more than once.
	Shutdown()
	// Close closes the connection at once.
	Close() error
}

// Server accepts connections and tracks them. Its exported fields are set
// before the first Serve and not changed afterwards.
type Server struct {
	// Protocol names the protocol in log messages ("fcgi", "scgi").
	Protocol string
	// NewConn wraps an accepted connection; ctx is the connection's
	// context (BaseContext, then ConnContext).
	NewConn func(ctx context.Context, rwc net.Conn) Conn
	// MaxConns limits the connections served at once over all listeners;
	// further ones wait in the listeners' backlogs (each listener holds at
	// most one accepted connection waiting). 0 means no limit.
	MaxConns int
	// AllowedAddrs, when not nil, lists the networks TCP connections may
	// come from; others are closed unanswered. Unix sockets are always
	// admitted: their file's permissions guard them.
	AllowedAddrs []netip.Prefix
	// Logger receives the accept loop's logs.
	Logger *slog.Logger
	// BaseContext and ConnContext are net/http.Server's: the base context
	// of a listener's connections, and a connection's own.
	BaseContext func(net.Listener) context.Context
	ConnContext func(ctx context.Context, c net.Conn) context.Context
	// ConnState, when not nil, is called as a connection changes state,
	// as net/http.Server's is: StateNew when accepted, StateActive and
	// StateIdle as its requests come and go (through SetState), StateClosed
	// at its end.
	ConnState func(net.Conn, http.ConnState)
	// Counters, when not nil, count the connections and refusals.
	Counters *stats.Counters
	// RateLog, when not nil, takes the logs of events a peer can repeat at
	// will (refused connections, accept failures), so that a flood makes a
	// record per kind and interval, not a record per event.
	RateLog *ratelog.Logger

	initOnce   sync.Once
	slots      chan struct{} // one per connection served, when MaxConns > 0
	done       chan struct{} // closed when Shutdown or Close begins
	aborted    chan struct{} // closed when Close begins
	inShutdown atomic.Bool
	inClose    atomic.Bool
	accepting  atomic.Int32 // Serve loops that have not returned yet

	work        chan func()  // hands a connection to an idle worker (goServe)
	idleWorkers atomic.Int32 // workers waiting on work

	mu         sync.Mutex
	listeners  map[*net.Listener]struct{}
	conns      map[Conn]struct{}
	onShutdown []func()
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		if s.MaxConns > 0 {
			s.slots = make(chan struct{}, s.MaxConns)
		}
		s.done = make(chan struct{})
		s.aborted = make(chan struct{})
		s.work = make(chan func())
	})
}

// Allowed reports whether a connection from addr may be served.
func Allowed(addr net.Addr, allowed []netip.Prefix) bool {
	if allowed == nil {
		return true
	}
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return true
	}
	ip := tcp.AddrPort().Addr().Unmap()
	for _, p := range allowed {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ParseAddrs parses a list of addresses ("127.0.0.1", "::1") and networks
// ("10.0.0.0/8"), as FCGI_WEB_SERVER_ADDRS and the commands' flags give
// them; blank entries are skipped. IPv4-mapped IPv6 addresses are unmapped.
func ParseAddrs(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, a := range list {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		p, err := netip.ParsePrefix(a)
		if err != nil {
			ip, ierr := netip.ParseAddr(a)
			if ierr != nil {
				return nil, fmt.Errorf("allowed address %q: not an IP address or network", a)
			}
			ip = ip.Unmap()
			p = netip.PrefixFrom(ip, ip.BitLen())
		} else if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// flushLog logs RateLog's counts of suppressed records, if any.
func (s *Server) flushLog() {
	if s.RateLog != nil {
		s.RateLog.Flush()
	}
}

// warn logs an event a peer can repeat, through RateLog when there is one.
func (s *Server) warn(msg string, args ...any) {
	if s.RateLog != nil {
		s.RateLog.Warn(msg, msg, args...)
		return
	}
	s.logger().Warn(msg, args...)
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// Serve accepts connections on l and serves each in its own goroutine until
// l fails for good or Shutdown or Close is called; then it returns
// http.ErrServerClosed. Serve closes l, and may run on several listeners
// at once: MaxConns counts the connections of all of them.
func (s *Server) Serve(l net.Listener) error {
	s.init()
	if !s.trackListener(&l, true) {
		return http.ErrServerClosed
	}
	defer s.trackListener(&l, false)
	defer l.Close()
	defer s.accepting.Add(-1) // counted by trackListener

	ctx := context.Background()
	if s.BaseContext != nil {
		if ctx = s.BaseContext(l); ctx == nil {
			return fmt.Errorf("%s: BaseContext returned a nil context", s.Protocol)
		}
	}
	var delay time.Duration
	for {
		rwc, err := l.Accept()
		if err != nil {
			if s.closed() {
				return http.ErrServerClosed
			}
			if !isTemporary(err) {
				return fmt.Errorf("%s: accept: %w", s.Protocol, err)
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.warn(s.Protocol+": accept failed; retrying", "err", err, "delay", delay)
			if !s.sleep(delay) {
				return http.ErrServerClosed
			}
			continue
		}
		delay = 0
		// The slot is taken after Accept, so that a listener waiting for
		// a connection holds none: each listener keeps at most the one
		// connection it accepted waiting for a slot. A connection in hand
		// is served even when Shutdown has begun meanwhile, as
		// net/http.Server serves it: the web server has sent its request,
		// and closing it unanswered would lose that request. Only Close
		// drops it.
		if !s.acquireSlot() {
			rwc.Close()
			return http.ErrServerClosed
		}
		s.serveConn(ctx, rwc)
		if s.closed() {
			return http.ErrServerClosed
		}
	}
}

// ServeAll serves every listener of ls at once, as Serve does, and returns
// the first error one of them returned once all have returned.
func (s *Server) ServeAll(ls []net.Listener) error { return ServeAll(ls, s.Serve) }

// ServeAll runs serve on every listener of ls at once and returns the
// first error one of them returned once all have returned.
func ServeAll(ls []net.Listener, serve func(net.Listener) error) error {
	errs := make([]error, len(ls))
	var wg sync.WaitGroup
	for i, l := range ls {
		wg.Go(func() { errs[i] = serve(l) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// serveConn starts serving an accepted connection, or refuses it.
func (s *Server) serveConn(ctx context.Context, rwc net.Conn) {
	if !Allowed(rwc.RemoteAddr(), s.AllowedAddrs) {
		if s.Counters != nil {
			s.Counters.Refused(stats.NotAllowed) // counted before the peer sees the close
		}
		s.warn(s.Protocol+": connection refused: address not allowed", "remote", rwc.RemoteAddr().String())
		rwc.Close()
		s.releaseSlot()
		return
	}
	if s.ConnContext != nil {
		if ctx = s.ConnContext(ctx, rwc); ctx == nil {
			panic("ConnContext returned a nil context")
		}
	}
	c := s.NewConn(ctx, rwc)
	if !s.trackConn(c, true) {
		c.Close()
		s.releaseSlot()
		return
	}
	if s.Counters != nil {
		s.Counters.ConnOpened()
	}
	s.SetState(rwc, http.StateNew)
	s.goServe(func() {
		defer s.releaseSlot()
		defer s.trackConn(c, false)
		c.Serve()
		s.SetState(rwc, http.StateClosed)
		if s.Counters != nil {
			s.Counters.ConnClosed()
		}
	})
}

// maxIdleWorkers bounds the goroutines that wait for a new connection
// once theirs has ended (goServe).
const maxIdleWorkers = 64

// goServe runs serve in a goroutine: an idle worker's, or a new one. A
// worker's stack has already grown to what serving a connection takes; a
// new goroutine starts small and grows (copying its stack) on every
// connection, which costs a connection-per-request protocol (SCGI, FastCGI
// without keep-alive) several per cent of its CPU.
func (s *Server) goServe(serve func()) {
	select {
	case s.work <- serve:
	default:
		go s.worker(serve)
	}
}

// worker runs serve, then the connections goServe hands it, until the
// server shuts down or maxIdleWorkers others already wait.
func (s *Server) worker(serve func()) {
	for {
		serve()
		if s.idleWorkers.Add(1) > maxIdleWorkers {
			s.idleWorkers.Add(-1)
			return
		}
		select {
		case serve = <-s.work:
			s.idleWorkers.Add(-1)
		case <-s.done:
			s.idleWorkers.Add(-1)
			return
		}
	}
}

// SetState reports a connection's new state to ConnState.
func (s *Server) SetState(c net.Conn, state http.ConnState) {
	if s.ConnState != nil {
		s.ConnState(c, state)
	}
}

func isTemporary(err error) bool {
	te, ok := err.(interface{ Temporary() bool })
	return ok && te.Temporary()
}

// acquireSlot waits for room under MaxConns; false once Close begins.
// During Shutdown it goes on waiting: the connections that drain free the
// slot the accepted one needs.
func (s *Server) acquireSlot() bool {
	if s.slots == nil {
		return !s.inClose.Load()
	}
	select {
	case s.slots <- struct{}{}:
		return true
	case <-s.aborted:
		return false
	}
}

func (s *Server) releaseSlot() {
	if s.slots != nil {
		<-s.slots
	}
}

// sleep waits d; false when the server closes first.
func (s *Server) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

func (s *Server) closed() bool { return s.inShutdown.Load() }

// trackListener adds or removes l; adding fails once Shutdown or Close
// began. An added listener counts in accepting until its Serve returns, so
// that Shutdown waits for the connection it may have accepted just before
// the listener closed.
func (s *Server) trackListener(l *net.Listener, add bool) bool {
	return track(s, &s.listeners, l, add, &s.inShutdown, func() { s.accepting.Add(1) })
}

// trackConn adds or removes c; adding fails once Close began.
func (s *Server) trackConn(c Conn, add bool) bool {
	return track(s, &s.conns, c, add, &s.inClose, nil)
}

// track adds k to the set *m, or removes it, under s.mu; adding fails once
// stop is set, and otherwise runs added under s.mu.
func track[K comparable](s *Server, m *map[K]struct{}, k K, add bool, stop *atomic.Bool, added func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(*m, k)
		return true
	}
	if stop.Load() {
		return false
	}
	if added != nil {
		added()
	}
	if *m == nil {
		*m = make(map[K]struct{})
	}
	(*m)[k] = struct{}{}
	return true
}

// Conns returns how many connections are being served.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Closing reports whether Shutdown or Close has begun.
func (s *Server) Closing() bool { return s.closed() }

// RegisterOnShutdown registers a function to call, in its own goroutine,
// when Shutdown or Close begins, as net/http.Server does (once: a second
// Shutdown does not call it again).
func (s *Server) RegisterOnShutdown(f func()) {
	s.mu.Lock()
	s.onShutdown = append(s.onShutdown, f)
	s.mu.Unlock()
}

// begin marks the server closed, starts the RegisterOnShutdown functions
// the first time, and closes the listeners; it returns the error of closing
// them.
func (s *Server) begin() error {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.inShutdown.Swap(true) {
		close(s.done)
		for _, f := range s.onShutdown {
			go f()
		}
	}
	var err error
	for l := range s.listeners {
		if cerr := (*l).Close(); cerr != nil && err == nil && !errors.Is(cerr, net.ErrClosed) {
			err = cerr
		}
	}
	return err
}

// Shutdown stops the server gracefully: it closes the listeners, asks every
// connection to close once idle, and waits until all are gone. When ctx
// ends first it returns ctx.Err() and the remaining connections go on.
func (s *Server) Shutdown(ctx context.Context) error {
	defer s.flushLog()
	lerr := s.begin()
	s.shutdownConns()
	poll := time.Millisecond
	timer := time.NewTimer(poll)
	defer timer.Stop()
	// A Serve loop may hold a connection it accepted before its listener
	// closed; it serves it, and Shutdown waits for it too.
	for s.accepting.Load() > 0 || s.Conns() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			poll = min(2*poll, 50*time.Millisecond)
			timer.Reset(poll)
			s.shutdownConns() // a new connection may have become idle
		}
	}
	return lerr
}

// NewConnGrace is how long Shutdown lets a connection that has not sent
// its first request yet send it, as net/http.Server does: the web server
// may have written the request before it saw the listener close.
const NewConnGrace = 5 * time.Second

// shutdownConns asks every connection to close once idle; Shutdown calls it
// again as it polls, for connections in their NewConnGrace.
func (s *Server) shutdownConns() {
	for _, c := range s.trackedConns() {
		c.Shutdown()
	}
}

// trackedConns returns the connections being served, so that they can be
// acted on without s.mu held.
func (s *Server) trackedConns() []Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := make([]Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

// Close closes the listeners and every connection at once, as
// net/http.Server.Close does; requests in flight see their connection
// closed.
func (s *Server) Close() error {
	defer s.flushLog()
	err := s.begin()
	// Under s.mu, so that trackConn refuses every connection that the
	// list below misses.
	s.mu.Lock()
	if !s.inClose.Swap(true) {
		close(s.aborted)
	}
	s.mu.Unlock()
	for _, c := range s.trackedConns() {
		c.Close()
	}
	return err
}
