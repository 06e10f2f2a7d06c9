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
	"github.com/cgiref/cgiref/internal/server"
	"github.com/cgiref/cgiref/internal/spool"
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

// Defaults of the Server's limits.
const (
	DefaultMaxHeaderBytes = 1 << 20 // PARAMS bytes per request
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
	// request past it, or one that arrives during Shutdown, is refused with
	// FCGI_OVERLOADED. 0 means no limit.
	MaxRequests int
	// MaxHeaderBytes limits the PARAMS stream (the CGI variables) of one
	// request; a request past it alone is answered 431 Request Header
	// Fields Too Large, and its connection goes on. 0 means
	// DefaultMaxHeaderBytes.
	MaxHeaderBytes int

	// SpoolMemory is how many bytes of a request's STDIN (or DATA) that the
	// handler has not read yet are held in memory; the rest waits in a
	// temporary file in TempDir ("": os.TempDir()). 0 means 1 MiB.
	SpoolMemory int64
	TempDir     string

	// ReadTimeout is the longest wait for the next record while a request
	// of the connection has not received all its input; IdleTimeout the
	// longest wait for a record while no request is in flight. WriteTimeout
	// is the longest each write to the web server may take. A timeout
	// closes the connection; 0 means none.
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

	initOnce sync.Once
	srv      server.Server
	active   atomic.Int64 // requests in flight
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.srv = server.Server{
			Protocol:     "fcgi",
			MaxConns:     s.MaxConns,
			AllowedAddrs: s.AllowedAddrs,
			Logger:       s.logger(),
			BaseContext:  s.BaseContext,
			ConnContext:  s.ConnContext,
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

func (s *Server) maxHeaderBytes() int {
	if s.MaxHeaderBytes <= 0 {
		return DefaultMaxHeaderBytes
	}
	return s.MaxHeaderBytes
}

// spoolConfig is where a request's unread input waits.
func (s *Server) spoolConfig() spool.Config {
	return spool.Config{Memory: s.SpoolMemory, TempDir: s.TempDir, Prefix: "cgiref-fcgi-body-"}
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
