package fcgi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cgiref/cgiref/gateway"
)

// ErrRequestAborted is the error of a body read after the web server sent
// FCGI_ABORT_REQUEST for the request (usually: the client went away).
var ErrRequestAborted = errors.New("fcgi: request aborted by the web server")

// ErrConnClosed is the error of a body read after the connection to the web
// server closed (or was closed for a timeout or a protocol error).
var ErrConnClosed = errors.New("fcgi: connection to web server closed")

// ErrServerClosed is returned by Server.Serve after a call to Shutdown.
var ErrServerClosed = errors.New("fcgi: Server closed")

// Defaults of the Server's limits.
const (
	DefaultMaxParamsBytes = 1 << 20 // PARAMS bytes per request
	DefaultBodyMemory     = 1 << 20 // unread STDIN or DATA bytes kept in memory per request
)

// unlimited is the FCGI_GET_VALUES answer for a limit that is not set.
const unlimited = "2147483647"

// A Server is a FastCGI application server (the responder, authorizer and
// filter roles) that runs each request through the gateway core. The zero
// value, with Handler set, is ready to use.
type Server struct {
	// Handler answers the requests; nil means http.DefaultServeMux.
	Handler http.Handler

	// MaxConns limits the connections served at once; further connections
	// wait to be accepted. 0 means no limit.
	//
	// FCGI_GET_VALUES reports MaxConns as FCGI_MAX_CONNS and MaxRequests
	// as FCGI_MAX_REQS, a limit of 0 as 2147483647.
	MaxConns int
	// MaxRequests limits the requests in flight over all connections; a
	// request past it, or one that arrives during Shutdown, is refused with
	// FCGI_OVERLOADED. 0 means no limit.
	MaxRequests int
	// MaxParamsBytes limits the PARAMS stream of one request; a request
	// past it closes its connection. 0 means DefaultMaxParamsBytes.
	MaxParamsBytes int
	// BodyMemory is how many bytes of a request's STDIN (or DATA) the
	// handler has not read yet are held in memory; the rest waits in a
	// temporary file in TempDir ("": os.TempDir). 0 means DefaultBodyMemory.
	BodyMemory int
	TempDir    string

	// ReadTimeout is the longest wait for the next record while a request
	// of the connection has not received all its input; IdleTimeout the
	// longest wait for a record while no request is in flight. WriteTimeout
	// limits each write to the connection. A timeout closes the connection;
	// 0 means none.
	ReadTimeout, IdleTimeout, WriteTimeout time.Duration

	// DisableMultiplexing refuses a second request on a busy connection
	// with FCGI_CANT_MPX_CONN, and answers FCGI_MPXS_CONNS "0".
	DisableMultiplexing bool

	// StderrToLog sends the requests' error streams (gateway.Errors) to
	// Logger, one record per line, instead of FCGI_STDERR records (IIS turns
	// any FCGI_STDERR output into a 500 answer).
	StderrToLog bool

	// FixIISPathInfo applies the IIS PATH_INFO fix-up to every request's
	// environ.
	FixIISPathInfo bool // environ.StripScriptPrefix, as iis.FixPathInfo

	// WebServerAddrs, when not empty, lists the IP addresses allowed to
	// connect over TCP; connections from others are closed. The package's
	// Serve fills it from FCGI_WEB_SERVER_ADDRS (comma-separated).
	WebServerAddrs []string

	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger

	// BaseContext returns the parent context of the requests served from a
	// listener; nil means context.Background().
	BaseContext func(net.Listener) context.Context

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	closing   atomic.Bool
	done      chan struct{} // closed by Shutdown
	active    atomic.Int64  // requests in flight
}

// doneChan returns the channel Shutdown closes.
func (s *Server) doneChan() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		s.done = make(chan struct{})
	}
	return s.done
}

// Serve accepts connections on l and serves them, each in its own
// goroutine, until l fails or Shutdown is called; then it returns
// ErrServerClosed. Serve closes l.
func (s *Server) Serve(l net.Listener) error {
	if !s.track(l, true) {
		return ErrServerClosed
	}
	defer s.track(l, false)
	defer l.Close()
	allowed, err := parseAddrs(s.WebServerAddrs)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if s.BaseContext != nil {
		if ctx = s.BaseContext(l); ctx == nil {
			return errors.New("fcgi: BaseContext returned a nil context")
		}
	}
	var slots chan struct{}
	if s.MaxConns > 0 {
		slots = make(chan struct{}, s.MaxConns)
	}
	var delay time.Duration
	done := s.doneChan()
	for {
		if slots != nil {
			select {
			case slots <- struct{}{}:
			case <-done:
				return ErrServerClosed
			}
		}
		rwc, err := l.Accept()
		if err != nil {
			if slots != nil {
				<-slots
			}
			if s.closing.Load() {
				return ErrServerClosed
			}
			if te, ok := err.(interface{ Temporary() bool }); ok && te.Temporary() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logger().Warn("fcgi: accept error; retrying", "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("fcgi: accept: %w", err)
		}
		delay = 0
		if !allowedAddr(rwc.RemoteAddr(), allowed) {
			s.logger().Warn("fcgi: connection refused: address not in FCGI_WEB_SERVER_ADDRS", "remote", rwc.RemoteAddr().String())
			rwc.Close()
			if slots != nil {
				<-slots
			}
			continue
		}
		c := newConn(s, rwc, ctx)
		if !s.trackConn(c, true) {
			rwc.Close()
			return ErrServerClosed
		}
		go func() {
			c.serve()
			s.trackConn(c, false)
			if slots != nil {
				<-slots
			}
		}()
	}
}

// Shutdown stops the server: it closes the listeners, closes idle
// connections at once and busy ones after their requests end, and waits for
// them. When ctx ends first, Shutdown returns ctx.Err() and the remaining
// connections keep running.
func (s *Server) Shutdown(ctx context.Context) error {
	done := s.doneChan()
	s.mu.Lock()
	if !s.closing.Swap(true) {
		close(done)
	}
	for l := range s.listeners {
		l.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.startShutdown()
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func (s *Server) track(l net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, l)
		return true
	}
	if s.closing.Load() {
		return false
	}
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
	}
	s.listeners[l] = struct{}{}
	return true
}

func (s *Server) trackConn(c *conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.conns, c)
		return true
	}
	if s.closing.Load() {
		return false
	}
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	s.conns[c] = struct{}{}
	return true
}

// acquire counts a new request in flight, false past MaxRequests.
func (s *Server) acquire() bool {
	n := s.active.Add(1)
	if s.MaxRequests > 0 && n > int64(s.MaxRequests) {
		s.active.Add(-1)
		return false
	}
	return true
}

func (s *Server) release() { s.active.Add(-1) }

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

func (s *Server) maxParams() int {
	if s.MaxParamsBytes <= 0 {
		return DefaultMaxParamsBytes
	}
	return s.MaxParamsBytes
}

func (s *Server) bodyMemory() int {
	if s.BodyMemory <= 0 {
		return DefaultBodyMemory
	}
	return s.BodyMemory
}

// value answers one FCGI_GET_VALUES variable.
func (s *Server) value(name string) (string, bool) {
	switch name {
	case nameMaxConns:
		return limit(s.MaxConns), true
	case nameMaxReqs:
		return limit(s.MaxRequests), true
	case nameMpxsConn:
		if s.DisableMultiplexing {
			return "0", true
		}
		return "1", true
	}
	return "", false
}

func limit(n int) string {
	if n <= 0 {
		return unlimited
	}
	return strconv.Itoa(n)
}

func parseAddrs(list []string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	for _, a := range list {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return nil, fmt.Errorf("fcgi: web server address %q: %w", a, err)
		}
		addrs = append(addrs, ip.Unmap())
	}
	return addrs, nil
}

// allowedAddr reports whether a connection from addr may be served: any
// non-TCP connection, or a TCP one from a listed address.
func allowedAddr(addr net.Addr, allowed []netip.Addr) bool {
	if len(allowed) == 0 {
		return true
	}
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return true
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	for _, a := range allowed {
		if a == ip {
			return true
		}
	}
	return false
}

// shutdownGrace bounds how long requests in flight may go on after the web
// server asked for a shutdown through _FCGI_SHUTDOWN_EVENT_.
const shutdownGrace = 30 * time.Second

// Serve serves FastCGI connections from l with handler, as net/http/fcgi's
// Serve does. A nil l means the listener a web server passes as standard
// input: the listening socket on file descriptor 0, or on Windows the named
// pipe (or socket) that IIS's FastCgiModule or mod_fcgid hands over, and
// then the event in _FCGI_SHUTDOWN_EVENT_, when set, starts a graceful
// Shutdown that Serve waits for. A nil handler means http.DefaultServeMux.
// Connections are accepted only from the addresses in the environment
// variable FCGI_WEB_SERVER_ADDRS, when it is set.
func Serve(l net.Listener, handler http.Handler) error {
	s := &Server{Handler: handler}
	var stopped chan struct{}
	if l == nil {
		var err error
		if l, err = stdinListener(); err != nil {
			return err
		}
		stopped = make(chan struct{})
		watchShutdownEvent(func() {
			defer close(stopped)
			ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer cancel()
			s.Shutdown(ctx)
		})
	}
	if v := os.Getenv("FCGI_WEB_SERVER_ADDRS"); v != "" {
		s.WebServerAddrs = strings.Split(v, ",")
	}
	err := s.Serve(l)
	if errors.Is(err, ErrServerClosed) && stopped != nil {
		<-stopped
	}
	return err
}

// ProcessEnv returns the FastCGI environment variables of the request that
// the request itself does not carry, as net/http/fcgi's ProcessEnv does:
// everything but HTTP_* and the variables net/http represents natively
// (CONTENT_LENGTH, CONTENT_TYPE, HTTPS, PATH_INFO, QUERY_STRING,
// REMOTE_ADDR, REMOTE_HOST, REMOTE_PORT, REQUEST_METHOD, REQUEST_URI,
// SCRIPT_NAME, SERVER_PROTOCOL). REMOTE_USER, for one, is there. It returns
// nil for a request that did not come through a gateway.
func ProcessEnv(r *http.Request) map[string]string {
	env := gateway.Environ(r)
	if env == nil {
		return nil
	}
	m := make(map[string]string)
	for k, v := range env {
		if !nativeVar(k) {
			m[k] = v
		}
	}
	return m
}

func nativeVar(name string) bool {
	switch name {
	case "CONTENT_LENGTH", "CONTENT_TYPE", "HTTPS",
		"PATH_INFO", "QUERY_STRING", "REMOTE_ADDR",
		"REMOTE_HOST", "REMOTE_PORT", "REQUEST_METHOD",
		"REQUEST_URI", "SCRIPT_NAME", "SERVER_PROTOCOL":
		return true
	}
	return strings.HasPrefix(name, "HTTP_")
}

// Data returns the FCGI_DATA stream of a FILTER request (the file to
// filter; FCGI_DATA_LENGTH and FCGI_DATA_LAST_MOD are in the environ). For
// other requests it returns an empty reader.
func Data(r *http.Request) io.Reader {
	if d, ok := r.Context().Value(dataKey{}).(io.Reader); ok {
		return d
	}
	return http.NoBody
}
