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
	"strings"
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
//
// It is a demo, not for production: it shows a client what its request
// looks like to the app. It never shows credentials or the rest of the
// process environment. The values of HTTP_AUTHORIZATION,
// HTTP_PROXY_AUTHORIZATION and HTTP_COOKIE read "[redacted]". Only these
// variables are listed:
//
//   - RFC 3875's meta-variables: AUTH_TYPE, CONTENT_LENGTH, CONTENT_TYPE,
//     GATEWAY_INTERFACE, PATH_INFO, PATH_TRANSLATED, QUERY_STRING,
//     REMOTE_ADDR, REMOTE_HOST, REMOTE_IDENT, REMOTE_USER, REQUEST_METHOD,
//     SCRIPT_NAME, SERVER_NAME, SERVER_PORT, SERVER_PROTOCOL,
//     SERVER_SOFTWARE;
//   - the request's header fields, HTTP_*;
//   - what web servers commonly add about the request: REQUEST_URI,
//     REQUEST_SCHEME, REMOTE_PORT, SERVER_ADDR, HTTPS, DOCUMENT_ROOT,
//     DOCUMENT_URI, SCRIPT_FILENAME, CONTEXT_PREFIX, CONTEXT_DOCUMENT_ROOT,
//     REDIRECT_STATUS, FCGI_ROLE, SCGI;
//   - the TLS variables SSL_PROTOCOL, SSL_CIPHER, SSL_TLS_SNI,
//     SSL_SERVER_NAME, SSL_SESSION_RESUMED, SSL_CLIENT_VERIFY,
//     SSL_CLIENT_S_DN and SSL_CLIENT_I_DN.
//
// Everything else is left out under every front end, not only under CGI
// (where the environ is the whole process environment: PATH, HOME, and
// anything set with Apache's SetEnv or PassEnv): Apache's mod_proxy_fcgi
// and mod_fcgid pass SetEnv variables as FastCGI parameters too, and
// Apache's REDIRECT_* copies hold every variable again, credentials
// included.
func DemoApp(w http.ResponseWriter, r *http.Request) {
	env := gateway.Environ(r)
	if env == nil {
		env = environ.FromRequest(r)
	}
	names := make([]string, 0, len(env))
	for name := range env {
		if demoShows(name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	b := []byte("Hello world!\n\n")
	for _, name := range names {
		v := env[name]
		if demoRedacted(name) {
			v = "[redacted]"
		}
		b = fmt.Appendf(b, "%s = %q\n", name, v)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(b)
}

// demoShows reports whether DemoApp lists the variable name (the list in
// DemoApp's documentation). Names are case-sensitive, as in an environ.
func demoShows(name string) bool {
	if strings.HasPrefix(name, "HTTP_") && len(name) > len("HTTP_") {
		return true
	}
	switch name {
	case "AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE", "GATEWAY_INTERFACE",
		"PATH_INFO", "PATH_TRANSLATED", "QUERY_STRING", "REMOTE_ADDR",
		"REMOTE_HOST", "REMOTE_IDENT", "REMOTE_USER", "REQUEST_METHOD",
		"SCRIPT_NAME", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL",
		"SERVER_SOFTWARE",
		"REQUEST_URI", "REQUEST_SCHEME", "REMOTE_PORT", "SERVER_ADDR", "HTTPS",
		"DOCUMENT_ROOT", "DOCUMENT_URI", "SCRIPT_FILENAME", "CONTEXT_PREFIX",
		"CONTEXT_DOCUMENT_ROOT", "REDIRECT_STATUS", "FCGI_ROLE", "SCGI",
		"SSL_PROTOCOL", "SSL_CIPHER", "SSL_TLS_SNI", "SSL_SERVER_NAME",
		"SSL_SESSION_RESUMED", "SSL_CLIENT_VERIFY", "SSL_CLIENT_S_DN",
		"SSL_CLIENT_I_DN":
		return true
	}
	return false
}

// demoRedacted reports whether DemoApp hides the value of name: the
// credentials a client sends.
func demoRedacted(name string) bool {
	switch name {
	case "HTTP_AUTHORIZATION", "HTTP_PROXY_AUTHORIZATION", "HTTP_COOKIE":
		return true
	}
	return false
}
