// Package cgi runs an http.Handler as a CGI program (RFC 3875) under a web
// server such as Apache or IIS: the request comes from the process
// environment and standard input, the answer goes to standard output as a
// CGI response, and the app's log lines to standard error, which the web
// server writes to its error log.
//
// It is a drop-in for the child side of net/http/cgi (Serve, Request,
// RequestFromMap), built on cgiref's gateway core: request bodies sent
// chunked (Apache passes them without CONTENT_LENGTH) reach the app, a panic
// gets a 500 answer instead of a broken one, and an app that answers while
// it reads its body does not deadlock under web servers that write the whole
// body first (Apache mod_cgid).
//
// A web server tells a CGI program to stop by closing its standard output
// or by a signal: when the client goes away, lighttpd and Apache (mod_cgi
// and mod_cgid; Apache notices at its next write to the client) close the
// program's pipes and send SIGTERM. Serve then cancels the request's
// context, as net/http.Server does when its client goes away, gives the
// handler a grace period (Server.Grace) to return, and returns an error
// wrapping ErrStopped. Apache sends SIGKILL 3 s after its SIGTERM: keep
// Grace below that there; lighttpd sends none. Serve returns an error too when the
// answer was cut short (a panic or http.ErrAbortHandler after the answer
// began, fewer bytes than the declared Content-Length): a CGI program
// cannot make the web server abort the client's answer (neither Apache nor
// lighttpd passes such a cut on), so the program should exit with a
// non-zero status, which the web server logs:
//
//	if err := cgi.Serve(handler); err != nil {
//		fmt.Fprintln(os.Stderr, err)
//		os.Exit(1)
//	}
//
// Under CGI, http.ResponseController's Flush works; SetReadDeadline returns
// http.ErrNotSupported for a request without a body and os.ErrNoDeadline
// with one (standard input is a blocking pipe or socket); SetWriteDeadline,
// EnableFullDuplex and Hijack return http.ErrNotSupported.
package cgi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/cgiref/cgiref/environ"
	"github.com/cgiref/cgiref/gateway"
	"github.com/cgiref/cgiref/transcode"
)

// stdoutBuffer is the size of the buffer in front of standard output.
const stdoutBuffer = 32 << 10

// Serve runs handler for the CGI request of this process and writes its
// answer to standard output. A nil handler means http.DefaultServeMux. It
// returns an error when the answer could not be written completely or was
// cut short, and when the web server stopped the program (ErrStopped); the
// grace period is DefaultGrace. It is (&Server{Handler: handler}).Serve().
func Serve(handler http.Handler) error {
	return (&Server{Handler: handler}).Serve()
}

// NewHandler returns a gateway for the CGI request of this process, as
// wsgiref's CGIHandler: the environ read now from the process environment
// (transcode.ReadEnviron), standard input as the body, standard output
// buffered and flushed at the end, standard error as the error stream;
// RunOnce and Multiprocess true, Multithread false.
func NewHandler() *gateway.Handler {
	return newHandler(transcode.ReadEnviron(), os.Stdin, os.Stdout, os.Stderr)
}

// newHandler builds a CGI gateway from an environ and the three streams.
func newHandler(env environ.Environ, stdin io.Reader, stdout, stderr io.Writer) *gateway.Handler {
	h := gateway.NewBaseCGI(Body(env, stdin), bufio.NewWriterSize(stdout, stdoutBuffer), stderr, env)
	h.Multithread, h.Multiprocess, h.RunOnce = false, true, true
	return h
}

// Body returns what a CGI program reads its request body from: stdin when
// CONTENT_LENGTH is set, or when HTTP_TRANSFER_ENCODING says chunked (Apache
// hands a chunked body over that way, decoded, without CONTENT_LENGTH, and
// closes stdin after it); otherwise nil, no body, and stdin is never read.
func Body(env environ.Environ, stdin io.Reader) io.Reader {
	if env["CONTENT_LENGTH"] != "" || isChunked(env["HTTP_TRANSFER_ENCODING"]) {
		return stdin
	}
	return nil
}

func isChunked(te string) bool {
	for coding := range strings.SplitSeq(te, ",") {
		if strings.EqualFold(strings.TrimSpace(coding), "chunked") {
			return true
		}
	}
	return false
}

// Request returns the CGI request of this process, its body read from
// standard input, as net/http/cgi's Request does.
func Request() (*http.Request, error) {
	env := transcode.ReadEnviron()
	return environ.NewRequest(env, Body(env, os.Stdin))
}

// RequestFromMap builds an HTTP request from CGI variables, without a body,
// as net/http/cgi's RequestFromMap does.
func RequestFromMap(params map[string]string) (*http.Request, error) {
	return environ.NewRequest(environ.Environ(params), nil)
}

// DefaultGrace is the grace period of Serve and of a Server whose Grace is
// zero.
const DefaultGrace = 5 * time.Second

// ErrStopped is wrapped by the cause of a request context that Serve
// cancelled (context.Cause) and by Serve's error, when the web server
// stopped the program: a signal (SIGTERM, SIGHUP, SIGINT), or its standard
// output closed.
var ErrStopped = errors.New("cgi: stopped by the web server")

// Server runs one CGI request with a grace period. The zero value (with a
// Handler) is what Serve uses.
type Server struct {
	Handler http.Handler // nil means http.DefaultServeMux

	// Grace is how long the handler may run on after the web server stopped
	// the program (the request's context is then done); Serve returns when
	// it has passed, whether the handler returned or not, so that the
	// program can exit. 0 means DefaultGrace; a negative value means no
	// grace at all.
	Grace time.Duration
}

// Serve runs the handler for the CGI request of this process (the process
// environment, standard input and output, as NewHandler), as Serve does.
func (s *Server) Serve() error {
	return s.run(NewHandler(), os.Stdout)
}

// run runs h, whose Stdout is a bufio.Writer in front of stdout, watching
// for the web server's stop: the signals, stdout closed (noticed by
// polling it, where the system can, and by a write that fails), and the
// grace period.
func (s *Server) run(h *gateway.Handler, stdout *os.File) error {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	h.Context = ctx
	stop := func(why string) { cancel(fmt.Errorf("%w: %s", ErrStopped, why)) }
	// Every write error on standard output means the web server has gone:
	// the answer cannot go anywhere else.
	h.Stdout.(*bufio.Writer).Reset(stoppingWriter{w: stdout, stop: stop})

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, stopSignals...)
	defer signal.Stop(sigs)
	// A write to a closed pipe fails with EPIPE instead of killing the
	// process with SIGPIPE, so that the handler gets its grace period.
	if len(pipeSignals) > 0 { // Notify without signals would take all
		pipe := make(chan os.Signal, 1)
		signal.Notify(pipe, pipeSignals...)
		defer signal.Stop(pipe)
	}
	unwatch := watchClosed(stdout, func() { stop("standard output closed") })
	defer unwatch()

	done := make(chan error, 1)
	go func() { done <- h.Run(s.Handler) }()
	stopped := ctx.Done()
	var expired <-chan time.Time
	for {
		select {
		case err := <-done:
			if cause := context.Cause(ctx); errors.Is(cause, ErrStopped) {
				// The handler may have ended early: the answer is cut.
				return errors.Join(cause, err)
			}
			return err
		case sig := <-sigs:
			stop("signal " + sig.String())
		case <-stopped:
			stopped = nil
			grace := s.grace()
			if grace < 0 {
				return context.Cause(ctx)
			}
			t := time.NewTimer(grace)
			defer t.Stop()
			expired = t.C
		case <-expired:
			return fmt.Errorf("%w; the handler did not return within its grace period of %v", context.Cause(ctx), s.grace())
		}
	}
}

func (s *Server) grace() time.Duration {
	if s.Grace == 0 {
		return DefaultGrace
	}
	return s.Grace
}

// stoppingWriter calls stop when a write fails.
type stoppingWriter struct {
	w    io.Writer
	stop func(why string)
}

func (w stoppingWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil {
		w.stop("writing standard output: " + err.Error())
		if gateway.IsClientGone(err) {
			err = fmt.Errorf("%w: %w", gateway.ErrClientGone, err)
		}
	}
	return n, err
}
