// Package simple is cgiref's demo HTTP server, the counterpart of Python's
// wsgiref.simple_server: an http.Handler served over net/http (HTTP/1.1,
// keep-alive, graceful shutdown) where the app sees the same
// gateway.Environ, gateway.Errors and gateway.RequestFlags it would see under
// CGI, and DemoApp, which lists a request's CGI variables.
//
// It is for trying apps out and for tests, not for production traffic.
package simple

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cgiref/cgiref/environ"
	"github.com/cgiref/cgiref/gateway"
)

// ServerSoftware is the SERVER_SOFTWARE of requests served by this package.
const ServerSoftware = "cgiref-simple/1.0"

// readHeaderTimeout bounds how long a client may take to send a header.
const readHeaderTimeout = 30 * time.Second

// Server is a demo HTTP server. Create it with MakeServer.
type Server struct {
	ln  net.Listener
	srv *http.Server
	app atomic.Pointer[http.Handler]

	// Errors is the error stream apps see as gateway.Errors; MakeServer
	// sets it to os.Stderr.
	Errors io.Writer

	oneMu sync.Mutex // serialises HandleRequest calls
}

// MakeServer listens on host:port (port 0 picks a free port) and returns a
// server for app; call ServeForever or HandleRequest to serve.
func MakeServer(host string, port int, app http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("simple: %w", err)
	}
	s := &Server{ln: ln, Errors: os.Stderr}
	s.SetApp(app)
	s.srv = s.newHTTPServer(nil)
	return s, nil
}

func (s *Server) newHTTPServer(connState func(net.Conn, http.ConnState)) *http.Server {
	return &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: readHeaderTimeout, ConnState: connState}
}

// SetApp sets the app later requests are served by; nil means
// http.DefaultServeMux.
func (s *Server) SetApp(app http.Handler) {
	if app == nil {
		app = http.DefaultServeMux
	}
	s.app.Store(&app)
}

// App returns the app requests are served by.
func (s *Server) App() http.Handler { return *s.app.Load() }

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// ServeForever serves requests until Shutdown or Close; it then returns nil.
func (s *Server) ServeForever() error {
	if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("simple: %w", err)
	}
	return nil
}

// Shutdown stops accepting connections and waits for active requests to end
// or ctx to be done.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Close closes the listener and every connection at once.
func (s *Server) Close() error { return s.srv.Close() }

// HandleRequest accepts one connection, serves exactly one request on it,
// closes it and returns.
func (s *Server) HandleRequest() error {
	s.oneMu.Lock()
	defer s.oneMu.Unlock()
	conn, err := s.ln.Accept()
	if err != nil {
		return fmt.Errorf("simple: %w", err)
	}
	closed := make(chan struct{})
	srv := s.newHTTPServer(func(_ net.Conn, state http.ConnState) {
		if state == http.StateClosed || state == http.StateHijacked {
			close(closed)
		}
	})
	srv.SetKeepAlivesEnabled(false)
	go srv.Serve(&oneConn{conn: conn, done: closed})
	<-closed
	return srv.Close()
}

// serveHTTP runs the app with the request's CGI variables in its context.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	env := environ.FromRequest(r)
	env["SERVER_SOFTWARE"] = ServerSoftware
	flags := gateway.Flags{Multithread: true, Scheme: environ.GuessScheme(env)}
	ctx := gateway.NewContext(r.Context(), env, s.Errors, flags)
	s.App().ServeHTTP(w, r.WithContext(ctx))
}

// oneConn is a listener that hands out one connection, then blocks until
// done is closed.
type oneConn struct {
	conn net.Conn
	once sync.Once
	done chan struct{}
}

func (l *oneConn) Accept() (net.Conn, error) {
	var c net.Conn
	l.once.Do(func() { c = l.conn })
	if c != nil {
		return c, nil
	}
	<-l.done
	return nil, net.ErrClosed
}

func (l *oneConn) Close() error   { return nil }
func (l *oneConn) Addr() net.Addr { return l.conn.LocalAddr() }

// DemoApp answers "Hello world!", a blank line, then one line per CGI
// variable of the request (gateway.Environ, or environ.FromRequest outside a
// gateway), sorted by name, as NAME = "value" with Go's %q quoting.
func DemoApp(w http.ResponseWriter, r *http.Request) {
	env := gateway.Environ(r)
	if env == nil {
		env = environ.FromRequest(r)
	}
	names := make([]string, 0, len(env))
	for name := range env {
		names = append(names, name)
	}
	slices.Sort(names)
	b := []byte("Hello world!\n\n")
	for _, name := range names {
		b = fmt.Appendf(b, "%s = %q\n", name, env[name])
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(b)
}
