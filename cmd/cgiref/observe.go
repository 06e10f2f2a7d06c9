package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/cgiref/cgiref/gateway"
)

// observeOptions are the flags of the fcgi and scgi subcommands that show
// what the server does.
type observeOptions struct {
	status    string        // -status ADDR
	ping      string        // -ping PATH
	slow      time.Duration // -slow D
	errors    string        // -errors auto|webserver|log|discard
	accessLog bool          // -access-log
}

func observeFlags(fs *flag.FlagSet) *observeOptions {
	o := &observeOptions{}
	fs.StringVar(&o.status, "status", "", "serve GET /status (JSON) and GET /metrics (Prometheus) on `ADDR`, such as 127.0.0.1:9180")
	fs.StringVar(&o.ping, "ping", "", "answer requests for `PATH` with 200 pong from the server itself, for health checks")
	fs.DurationVar(&o.slow, "slow", 0, "log a request still running after this long, with its handler's stack (0: never)")
	fs.StringVar(&o.errors, "errors", "auto", "where the application's error output goes: auto, webserver, log or discard")
	fs.BoolVar(&o.accessLog, "access-log", false, "log every request as a combined log line with its duration")
	return o
}

// observed is what a server offers to observeOptions.
type observed struct {
	pingPath    *string
	slowRequest *time.Duration
	errors      *gateway.ErrorStream
	accessLog   *func(gateway.AccessRecord)
}

// apply sets the server's fields from the flags.
func (o *observeOptions) apply(log *slog.Logger, s observed) error {
	es, err := gateway.ParseErrorStream(o.errors)
	if err != nil {
		return err
	}
	*s.errors, *s.pingPath, *s.slowRequest = es, o.ping, o.slow
	if o.accessLog {
		*s.accessLog = func(a gateway.AccessRecord) { log.Info("access", "line", a.CombinedLog()) }
	}
	return nil
}

// serveStatus serves the status handler on -status until stop is called;
// without -status it does nothing. While a process that hands its sockets
// over (SIGHUP) still holds the address, the listen is retried in the
// background, so that the new process is not held up.
func (o *observeOptions) serveStatus(log *slog.Logger, h http.Handler) (stop func(), err error) {
	if o.status == "" {
		return func() {}, nil
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	l, err := net.Listen("tcp", o.status)
	switch {
	case err == nil:
		go o.runStatus(log, srv, l)
	case errors.Is(err, syscall.EADDRINUSE):
		go o.retryStatus(log, srv)
	default:
		return nil, fmt.Errorf("-status: %w", err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

// retryStatus listens on -status once the address is free, for at most a
// minute.
func (o *observeOptions) retryStatus(log *slog.Logger, srv *http.Server) {
	for range 600 {
		time.Sleep(100 * time.Millisecond)
		if l, err := net.Listen("tcp", o.status); err == nil {
			o.runStatus(log, srv, l)
			return
		}
	}
	log.Error("status server: the address stayed in use", "listen", o.status)
}

func (o *observeOptions) runStatus(log *slog.Logger, srv *http.Server, l net.Listener) {
	log.Info("status: serving /status and /metrics", "listen", l.Addr().String())
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("status server", "err", err)
	}
}

// gatewayServer is what fcgi.Server and scgi.Server offer the command.
type gatewayServer interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	StatusHandler() http.Handler
}

// runGatewayServer serves s as the fcgi and scgi subcommands do: the
// observation flags applied through fields, the status listener, the
// listeners (given, inherited or handed over), sd_notify and SIGHUP, until
// SIGINT or SIGTERM.
func runGatewayServer(name string, args []string, log *slog.Logger, s gatewayServer, fields observed, obs *observeOptions, lo *listenOptions, pidFile, app string) int {
	if err := obs.apply(log, fields); err != nil {
		log.Error(name, "err", err)
		return 2
	}
	stopStatus, err := obs.serveStatus(log, s.StatusHandler())
	if err != nil {
		log.Error(name, "err", err)
		return 1
	}
	defer stopStatus()
	ho, serve, where, err := newHandover(log, lo, pidFile, append([]string{name}, args...), s.Serve)
	if err != nil {
		log.Error(name, "err", err)
		return 1
	}
	defer ho.finish()
	log.Info(name+": serving", "listen", where, "app", app, "pid", os.Getpid())
	return runUntilSignal(log, server{
		name:  name,
		serve: serve,
		shutdown: func(ctx context.Context) error {
			ho.stopping()
			return s.Shutdown(ctx)
		},
		closed:  http.ErrServerClosed,
		ready:   func() { ho.ready("serving " + where) },
		restart: ho.restart,
	})
}
