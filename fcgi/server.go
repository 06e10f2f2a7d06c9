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
	"github.com/cgiref/cgiref/internal/ratelog"
	"github.com/cgiref/cgiref/internal/server"
	"github.com/cgiref/cgiref/internal/spool"
	"github.com/cgiref/cgiref/internal/stats"
)

// ErrRequestAborted is the error of a body read after the web server sent
// FCGI_ABORT_REQUEST for the request (usually: the client went away).
var ErrRequestAborted = errors.New("fcgi: request aborted by the web server")

// ErrConnClosed is the error of a body read after the connection to the web
// server closed (or was closed for a timeout or a protocol error).
var ErrConnClosed = errors.New("fcgi: connection to web server closed")

// ErrServerClosed is returned by Server.Serve after Shutdown or Close. It
// is http.ErrServerClosed, for both cgiref servers.
var ErrServerClosed = http.ErrServerClosed

// Defaults of the Server's limits and timeouts. Each is chosen against
// what the web servers in front do, so that a well-behaved web server never
// meets them and a misbehaving one, or anyone else who reaches the socket,
// cannot hold the server's resources for long.
const (
	// DefaultMaxHeaderBytes bounds the PARAMS of one request, as
	// net/http's DefaultMaxHeaderBytes bounds a header block.
	DefaultMaxHeaderBytes = 1 << 20
	// DefaultMaxHeaderMemory bounds the PARAMS held at once by all the
	// requests of the server that have not started (64 requests at the
	// per-request limit).
	DefaultMaxHeaderMemory = 64 << 20
	// DefaultMaxConnRequests bounds the requests in flight on one
	// connection. Web servers send one at a time (nginx, Apache, lighttpd,
	// Caddy never multiplex); 128 leaves room for a multiplexing client, as
	// HTTP/2 servers allow 100 to 250 streams.
	DefaultMaxConnRequests = 128
	// DefaultMaxRequests bounds the requests in flight over the server.
	DefaultMaxRequests = 1024
	// DefaultMaxBodyBytes bounds the body of one request.
	DefaultMaxBodyBytes = 1 << 30
	// DefaultMaxSpoolMemory and DefaultMaxSpoolDisk bound the unread
	// request bodies the server holds at once in memory and on disk.
	DefaultMaxSpoolMemory = 256 << 20
	DefaultMaxSpoolDisk   = 4 << 30
	// DefaultReadHeaderTimeout: a new connection has this long to begin a
	// request, and a request this long from BEGIN_REQUEST to the end of its
	// PARAMS. Web servers send both at once.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout closes a keep-alive connection with no request in
	// flight; it is longer than nginx's upstream keepalive_timeout (60 s),
	// so that the web server, not the backend, closes an idle connection.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultReadTimeout bounds each wait for a request's input: nginx
	// waits up to client_body_timeout (60 s) between two reads from a slow
	// client before it passes the bytes on.
	DefaultReadTimeout = 90 * time.Second
	// DefaultWriteTimeout bounds each write to the web server: nginx gives
	// up after fastcgi_read_timeout (60 s) without a byte.
	DefaultWriteTimeout = 90 * time.Second
)

// unlimited is the FCGI_GET_VALUES answer for a limit that is not set.
const unlimited = "2147483647"

// A Server is a FastCGI application server (the responder, authorizer and
// filter roles) that runs each request through the gateway core. The zero
// value, with Handler set, is ready to use. Its fields must not change once
// Serve has been called.
type Server struct {
	// Handler answers the requests; nil means http.DefaultServeMux.
	Handler http.Handler

	// MaxConns limits the connections served at once, over every listener
	// of the server; further connections wait to be accepted. 0 means no
	// limit.
	//
	// FCGI_GET_VALUES reports MaxConns as FCGI_MAX_CONNS and MaxRequests
	// as FCGI_MAX_REQS, a limit of 0 as 2147483647.
	MaxConns int
	// MaxRequests limits the requests in flight over all connections; a
	// request past it waits for a slot in a queue of RequestQueue requests
	// for at most RequestQueueTimeout (0: DefaultReadHeaderTimeout), and
	// otherwise is refused with FCGI_OVERLOADED, the protocol's own answer
	// (nginx passes it on as 502 and, with fastcgi_next_upstream error,
	// tries the next backend). 0 means DefaultMaxRequests; a negative
	// value, no limit.
	MaxRequests         int
	RequestQueue        int
	RequestQueueTimeout time.Duration
	// MaxConnRequests limits the requests in flight on one connection;
	// BEGIN_REQUEST past it gets FCGI_OVERLOADED. 0 means
	// DefaultMaxConnRequests.
	MaxConnRequests int
	// MaxHeaderBytes limits the PARAMS stream (the CGI variables) of one
	// request, and MaxHeaderMemory the PARAMS held at once by the requests
	// that have not started; a request past the first is answered 431
	// Request Header Fields Too Large, past the second 503, and its
	// connection goes on. 0 means DefaultMaxHeaderBytes and
	// DefaultMaxHeaderMemory.
	MaxHeaderBytes  int
	MaxHeaderMemory int64
	// MaxBodyBytes limits the body (STDIN) of one request: a declared
	// CONTENT_LENGTH past it is answered 413 without running the handler,
	// and a body that grows past it fails the handler's reads with an
	// *http.MaxBytesError. 0 means DefaultMaxBodyBytes; a negative value,
	// no limit.
	MaxBodyBytes int64

	// SpoolMemory is how many bytes of a request's STDIN (or DATA) that the
	// handler has not read yet are held in memory; the rest waits in a
	// temporary file in TempDir ("": os.TempDir()). 0 means 1 MiB.
	// MaxSpoolMemory and MaxSpoolDisk bound what all the requests of the
	// server hold at once: past the first, bytes go to disk; past the
	// second, the request's body fails. 0 means DefaultMaxSpoolMemory and
	// DefaultMaxSpoolDisk; a negative value, no limit.
	SpoolMemory    int64
	TempDir        string
	MaxSpoolMemory int64
	MaxSpoolDisk   int64

	// ReadHeaderTimeout is how long a new connection may take to begin a
	// request and each request to complete its PARAMS. IdleTimeout closes
	// a connection with no request in flight. ReadTimeout is the longest
	// wait for the next record while a request still waits for input.
	// WriteTimeout is the longest each write to the web server may take.
	// A timeout closes the connection. 0 means the Default of each; a
	// negative value, none.
	ReadHeaderTimeout, IdleTimeout, ReadTimeout, WriteTimeout time.Duration

	// RequestTimeout, when positive, bounds how long a handler may run:
	// its context is cancelled then, and the request ends at once: with 503
	// Service Unavailable when the answer has not begun (as
	// net/http.TimeoutHandler answers), cut visibly when it has. The
	// handler's later writes fail with http.ErrHandlerTimeout. 0 means no
	// limit: long polls and streams are legitimate, and the web server's
	// own read timeout (nginx: 60 s without a byte) bounds a silent one.
	RequestTimeout time.Duration

	// DisableMultiplexing refuses a second request on a busy connection
	// with FCGI_CANT_MPX_CONN, and answers FCGI_MPXS_CONNS "0".
	DisableMultiplexing bool

	// Errors says where the requests' error streams (gateway.Errors, and
	// a panic's stack) go: gateway.ErrorsAuto (the zero value) sends them
	// as FCGI_STDERR to the web server's error log, except under IIS
	// (SERVER_SOFTWARE Microsoft-IIS), which turns any FCGI_STDERR output
	// into a 500 answer: there they go to Logger.
	Errors gateway.ErrorStream

	// PingPath, when set, is a request path the server answers itself with
	// 200 and the body "pong", without the handler and past every request
	// limit, so that health checks see the server even when every handler
	// is stuck (as PHP-FPM's ping.path).
	PingPath string

	// SlowRequest, when positive, logs a request still running after this
	// long, once, with the stacks of its handler's goroutines (found by
	// the pprof label cgiref_request).
	SlowRequest time.Duration

	// AccessLog, when not nil, is called once per request whose handler
	// ran, after its end. Refusals and pings are counted (Stats), not
	// logged here.
	AccessLog func(gateway.AccessRecord)

	// ConnState, when not nil, is called as a connection changes state, as
	// net/http.Server's is: StateNew, StateActive while requests are in
	// flight, StateIdle between them, StateClosed.
	ConnState func(net.Conn, http.ConnState)

	// FixIISPathInfo applies the IIS PATH_INFO fix-up to every request's
	// environ.
	FixIISPathInfo bool // environ.StripScriptPrefix, as iis.FixPathInfo

	// AllowedAddrs, when not nil, lists the networks TCP connections may
	// come from; others are closed unanswered. Unix sockets are always
	// admitted. The package's Serve fills it from FCGI_WEB_SERVER_ADDRS
	// (comma-separated addresses).
	AllowedAddrs []netip.Prefix

	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger

	// BaseContext returns the parent context of the requests served from a
	// listener, and ConnContext that of a connection's requests, as
	// net/http.Server's do; nil means context.Background() and no change.
	BaseContext func(net.Listener) context.Context
	ConnContext func(ctx context.Context, c net.Conn) context.Context

	initOnce   sync.Once
	srv        server.Server
	slots      chan struct{} // one per request running, under MaxRequests
	active     atomic.Int64  // requests running
	queued     atomic.Int64  // requests waiting for a slot
	headerHeld atomic.Int64  // PARAMS bytes held by requests not started
	budget     spool.Budget  // of all the requests' unread input
	counters   stats.Counters
	rl         *ratelog.Logger // logs of events a peer can repeat

	inlineWatch server.Watcher[*conn] // connections running requests inline (conn.Tick)
}

// Stats returns the server's counters.
func (s *Server) Stats() gateway.Stats { return s.counters.Snapshot() }

// StatusHandler serves the server's counters: GET /status as JSON (with
// requests_total and requests_in_flight among its fields), GET /metrics in
// the Prometheus text format (cgiref_requests_total,
// cgiref_requests_in_flight and more). Serve it on a listener of its own.
func (s *Server) StatusHandler() http.Handler {
	return stats.Handler("fcgi", s.counters.Snapshot)
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		if n := s.maxRequests(); n > 0 {
			s.slots = make(chan struct{}, n)
		}
		s.rl = ratelog.New(s.logger(), nil)
		s.budget.Memory = server.OrDefault(s.MaxSpoolMemory, DefaultMaxSpoolMemory)
		s.budget.Disk = server.OrDefault(s.MaxSpoolDisk, DefaultMaxSpoolDisk)
		s.inlineWatch.Period = inlineTick
		s.srv = server.Server{
			Protocol:     "fcgi",
			MaxConns:     s.MaxConns,
			AllowedAddrs: s.AllowedAddrs,
			Logger:       s.logger(),
			BaseContext:  s.BaseContext,
			ConnContext:  s.ConnContext,
			ConnState:    s.ConnState,
			Counters:     &s.counters,
			RateLog:      s.rl,
			NewConn: func(ctx context.Context, rwc net.Conn) server.Conn {
				return newConn(s, rwc, ctx)
			},
		}
	})
}

// Serve accepts connections on l and serves them, each in its own
// goroutine, until l fails or Shutdown or Close is called; then it returns
// ErrServerClosed. Serve closes l. It may run on several listeners at once.
//
// A nil l means the listeners the process was started with: the sockets
// systemd passes (LISTEN_FDS), else the listening socket a web server
// passes on file descriptor 0 (lighttpd, mod_fcgid), or on Windows the
// named pipe or socket IIS and mod_fcgid pass as standard input; there the
// web server's shutdown event (_FCGI_SHUTDOWN_EVENT_) starts a graceful
// Shutdown, which Serve waits for.
func (s *Server) Serve(l net.Listener) error {
	s.init()
	if l != nil {
		return s.srv.Serve(l)
	}
	ls, err := inheritedListeners()
	if err != nil {
		return err
	}
	var signalled atomic.Bool
	stopped := make(chan struct{})
	watchShutdownEvent(func() {
		defer close(stopped)
		signalled.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		s.Shutdown(ctx)
	})
	err = s.srv.ServeAll(ls)
	if signalled.Load() {
		<-stopped // the requests in flight end before the process does
	}
	return err
}

// Shutdown stops the server: it closes the listeners, closes idle
// connections at once and busy ones after their requests end, and waits for
// them. When ctx ends first, Shutdown returns ctx.Err() and the remaining
// connections keep running.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	return s.srv.Shutdown(ctx)
}

// Close closes the listeners and every connection at once; the requests in
// flight see their connection closed (ErrConnClosed).
func (s *Server) Close() error {
	s.init()
	return s.srv.Close()
}

// RegisterOnShutdown registers a function to call when Shutdown or Close
// begins, as net/http.Server's does.
func (s *Server) RegisterOnShutdown(f func()) {
	s.init()
	s.srv.RegisterOnShutdown(f)
}

func (s *Server) maxRequests() int { return server.OrDefault(s.MaxRequests, DefaultMaxRequests) }
func (s *Server) maxConnRequests() int {
	return server.OrDefault(s.MaxConnRequests, DefaultMaxConnRequests)
}
func (s *Server) maxHeaderMemory() int64 {
	return server.OrDefault(s.MaxHeaderMemory, DefaultMaxHeaderMemory)
}
func (s *Server) maxBodyBytes() int64 { return server.OrDefault(s.MaxBodyBytes, DefaultMaxBodyBytes) }
func (s *Server) readHeaderTimeout() time.Duration {
	return server.OrDefault(s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
}
func (s *Server) idleTimeout() time.Duration {
	return server.OrDefault(s.IdleTimeout, DefaultIdleTimeout)
}
func (s *Server) readTimeout() time.Duration {
	return server.OrDefault(s.ReadTimeout, DefaultReadTimeout)
}
func (s *Server) writeTimeout() time.Duration {
	return server.OrDefault(s.WriteTimeout, DefaultWriteTimeout)
}

// admit takes a slot for a request that is about to run, waiting in the
// queue when there is one; false when the request must be refused.
func (s *Server) admit(ctx context.Context) bool {
	if s.slots == nil {
		s.active.Add(1)
		return true
	}
	select {
	case s.slots <- struct{}{}:
		s.active.Add(1)
		return true
	default:
	}
	if s.RequestQueue <= 0 || s.queued.Add(1) > int64(s.RequestQueue) {
		if s.RequestQueue > 0 {
			s.queued.Add(-1)
		}
		return false
	}
	defer s.queued.Add(-1)
	wait := s.RequestQueueTimeout
	if wait <= 0 {
		wait = DefaultReadHeaderTimeout
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		s.active.Add(1)
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// release frees the slot of a request admitted to run.
func (s *Server) release() {
	s.active.Add(-1)
	if s.slots != nil {
		<-s.slots
	}
}

// holdHeader counts n more PARAMS bytes held; false past MaxHeaderMemory.
func (s *Server) holdHeader(n int) bool {
	if s.headerHeld.Add(int64(n)) > s.maxHeaderMemory() {
		s.headerHeld.Add(-int64(n))
		return false
	}
	return true
}

func (s *Server) handler() http.Handler { return server.HandlerOrDefault(s.Handler) }

func (s *Server) logger() *slog.Logger { return server.LoggerOrDefault(s.Logger) }

func (s *Server) maxHeaderBytes() int {
	return server.OrDefault(max(s.MaxHeaderBytes, 0), DefaultMaxHeaderBytes)
}

// spoolConfig is where a request's unread input waits.
func (s *Server) spoolConfig() spool.Config {
	return spool.Config{Memory: s.SpoolMemory, TempDir: s.TempDir, Prefix: "cgiref-fcgi-body-", Budget: &s.budget}
}

// value answers one FCGI_GET_VALUES variable.
func (s *Server) value(name string) (string, bool) {
	switch name {
	case nameMaxConns:
		return limit(s.MaxConns), true
	case nameMaxReqs:
		return limit(s.maxRequests()), true
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

// shutdownGrace bounds how long requests in flight may go on after the web
// server asked for a shutdown through _FCGI_SHUTDOWN_EVENT_.
const shutdownGrace = 30 * time.Second

// Serve serves FastCGI connections from l with handler, as net/http/fcgi's
// Serve does. A nil l means the listeners the process was started with (see
// Server.Serve); a nil handler means http.DefaultServeMux. Connections are
// accepted only from the addresses in the environment variable
// FCGI_WEB_SERVER_ADDRS, when it is set.
func Serve(l net.Listener, handler http.Handler) error {
	s := &Server{Handler: handler}
	if v := os.Getenv("FCGI_WEB_SERVER_ADDRS"); v != "" {
		addrs, err := server.ParseAddrs(strings.Split(v, ","))
		if err != nil {
			if l != nil {
				l.Close()
			}
			return fmt.Errorf("fcgi: FCGI_WEB_SERVER_ADDRS: %w", err)
		}
		s.AllowedAddrs = addrs
	}
	return s.Serve(l)
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

// dataKey is the context key of a FILTER request's FCGI_DATA stream.
type dataKey struct{}
