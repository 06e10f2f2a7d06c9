package scgi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/cgiref/cgiref/gateway"
	"github.com/cgiref/cgiref/internal/listen"
	"github.com/cgiref/cgiref/internal/ratelog"
	"github.com/cgiref/cgiref/internal/server"
	"github.com/cgiref/cgiref/internal/stats"
)

// Defaults of the Server's limits and timeouts, chosen as fcgi's are: a
// well-behaved web server never meets them.
const (
	// DefaultReadHeaderTimeout: a new connection has this long to send its
	// header block; web servers send it at once.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds each wait for body bytes: nginx waits up
	// to client_body_timeout (60 s) between two reads from a slow client.
	DefaultReadTimeout = 90 * time.Second
	// DefaultWriteTimeout bounds each write to the web server: nginx gives
	// up after scgi_read_timeout (60 s) without a byte.
	DefaultWriteTimeout = 90 * time.Second
	// DefaultMaxBodyBytes bounds the body of one request.
	DefaultMaxBodyBytes = 1 << 30
)

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
// gateway.ErrClientGone.
var ErrConnClosed = errors.New("scgi: connection closed by the web server")

// ErrServerClosed is returned by Server.Serve after Shutdown or Close. It
// is http.ErrServerClosed, for both cgiref servers.
var ErrServerClosed = http.ErrServerClosed

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

	// MaxConns is how many connections are served at once over every
	// listener; further ones wait in the listeners' backlogs. Zero means no
	// limit.
	MaxConns int

	// MaxHeaderBytes is the largest header block accepted; a netstring
	// declaring more is refused as soon as its length digits are read. Zero
	// means DefaultMaxHeaderBytes.
	MaxHeaderBytes int

	// ReadHeaderTimeout is how long a new connection may take to send its
	// whole header block. ReadTimeout is how long each read of the request
	// body may wait for bytes from the web server; a read that times out
	// fails and cancels the request's context. WriteTimeout is the longest
	// each write of the answer to the web server may take. 0 means the
	// Default of each; a negative value, no limit.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout time.Duration

	// RequestTimeout, when positive, bounds how long a handler may run:
	// its context is cancelled then and the request ends at once, with 503
	// Service Unavailable when the answer has not begun (as
	// net/http.TimeoutHandler answers) and cut visibly when it has. 0 means
	// no limit.
	RequestTimeout time.Duration

	// MaxBodyBytes limits the request body: a CONTENT_LENGTH past it is
	// answered 413 without running the handler. 0 means
	// DefaultMaxBodyBytes; a negative value, no limit.
	MaxBodyBytes int64

	// AllowedAddrs lists the network prefixes TCP connections may come from;
	// others are closed at once, unanswered. Nil admits every address.
	// Connections over a unix socket are always admitted: the socket file's
	// permissions guard them. SCGI carries no authentication, so whoever
	// reaches the socket is trusted with every CGI variable it sends: listen
	// on a unix socket or a loopback address, and list the web server's
	// address here when it is elsewhere.
	AllowedAddrs []netip.Prefix

	// SpoolMemory is how much of an unread request body is held in memory
	// when the answer goes out before the body was read; the rest waits in
	// a temporary file in TempDir ("": os.TempDir()). 0 means 1 MiB.
	SpoolMemory int64
	TempDir     string

	// Logger receives connection errors and the applications' error output
	// (gateway.Errors); nil means slog.Default().
	Logger *slog.Logger

	// Errors says where the requests' error streams go: SCGI has no error
	// stream, so gateway.ErrorsAuto and gateway.ErrorsToWebServer mean
	// Logger (the lines of one write are one record, a panic's stack is one
	// record); gateway.ErrorsDiscard drops them.
	Errors gateway.ErrorStream

	// PingPath, when set, is a request path the server answers itself with
	// 200 and the body "pong", without the handler, so that health checks
	// see the server even when every handler is stuck.
	PingPath string

	// SlowRequest, when positive, logs a request still running after this
	// long, once, with the stacks of its handler's goroutines.
	SlowRequest time.Duration

	// AccessLog, when not nil, is called once per request after its end.
	AccessLog func(gateway.AccessRecord)

	// ConnState, when not nil, is called as a connection changes state, as
	// net/http.Server's is.
	ConnState func(net.Conn, http.ConnState)

	// BaseContext returns the parent context of the requests served from a
	// listener, and ConnContext that of a connection's request, as
	// net/http.Server's do; nil means context.Background() and no change.
	BaseContext func(net.Listener) context.Context
	ConnContext func(ctx context.Context, c net.Conn) context.Context

	initOnce sync.Once
	srv      server.Server
	counters stats.Counters
	rl       *ratelog.Logger // logs of events a peer can repeat
}

// Stats returns the server's counters.
func (s *Server) Stats() gateway.Stats { return s.counters.Snapshot() }

// StatusHandler serves the server's counters: GET /status as JSON (with
// requests_total and requests_in_flight among its fields), GET /metrics in
// the Prometheus text format. Serve it on a listener of its own.
func (s *Server) StatusHandler() http.Handler {
	return stats.Handler("scgi", s.counters.Snapshot)
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.rl = ratelog.New(s.logger(), nil)
		s.srv = server.Server{
			Protocol:     "scgi",
			MaxConns:     s.MaxConns,
			AllowedAddrs: s.AllowedAddrs,
			Logger:       s.logger(),
			BaseContext:  s.BaseContext,
			ConnContext:  s.ConnContext,
			ConnState:    s.ConnState,
			Counters:     &s.counters,
			RateLog:      s.rl,
			NewConn: func(ctx context.Context, rwc net.Conn) server.Conn {
				return s.newConn(ctx, rwc)
			},
		}
	})
}

func (s *Server) handler() http.Handler { return server.HandlerOrDefault(s.Handler) }

func (s *Server) logger() *slog.Logger { return server.LoggerOrDefault(s.Logger) }

func (s *Server) maxHeaderBytes() int {
	return server.OrDefault(max(s.MaxHeaderBytes, 0), DefaultMaxHeaderBytes)
}

func (s *Server) readHeaderTimeout() time.Duration {
	return server.OrDefault(s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
}
func (s *Server) readTimeout() time.Duration {
	return server.OrDefault(s.ReadTimeout, DefaultReadTimeout)
}
func (s *Server) writeTimeout() time.Duration {
	return server.OrDefault(s.WriteTimeout, DefaultWriteTimeout)
}
func (s *Server) maxBodyBytes() int64 { return server.OrDefault(s.MaxBodyBytes, DefaultMaxBodyBytes) }

// Serve accepts connections on l and serves each in its own goroutine. It
// returns ErrServerClosed after Shutdown or Close, or the error that made
// Accept fail for good. Serve closes l, and may run on several listeners at
// once. A nil l means the listeners the process was started with: the
// sockets systemd passes (LISTEN_FDS), else the listening socket on file
// descriptor 0.
func (s *Server) Serve(l net.Listener) error {
	s.init()
	if l != nil {
		return s.srv.Serve(l)
	}
	ls, err := listen.Inherited()
	if err != nil {
		return fmt.Errorf("scgi: %w", err)
	}
	if len(ls) == 0 {
		return errors.New("scgi: neither systemd (LISTEN_FDS) nor file descriptor 0 passed a listening socket")
	}
	return s.srv.ServeAll(ls)
}

// Shutdown stops the server gracefully: it closes the listeners, closes the
// connections still waiting for their header block, and waits until the
// requests in flight have finished and their connections are closed. When
// ctx ends first it returns ctx.Err(), leaving those requests running.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	return s.srv.Shutdown(ctx)
}

// Close closes the listeners and every connection at once.
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
