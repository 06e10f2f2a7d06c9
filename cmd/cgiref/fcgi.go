package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cgiref/cgiref/fcgi"
)

// shutdownGrace is how long a FastCGI server stopped by a signal waits for
// its requests in flight.
const shutdownGrace = 10 * time.Second

// runFCGI serves FastCGI on -listen, or on the listening socket a web server
// passes on file descriptor 0, until SIGINT or SIGTERM; then it stops
// gracefully.
func runFCGI(args []string, stderr io.Writer) int {
	fs := subcommandFlags("fcgi", "cgiref fcgi [-listen ADDR|unix:PATH] [-app demo|echo|files|check] [-dir DIR] [-validate] [-iis] [-stderr-to-log]", stderr)
	addr := fs.String("listen", "", "listen on host:port or unix:PATH (default: the listening socket on file descriptor 0)")
	iisFix := fs.Bool("iis", false, "apply the IIS PATH_INFO fix-up to every request")
	toLog := fs.Bool("stderr-to-log", false, "log the application's error output instead of sending FCGI_STDERR (for IIS)")
	var o appOptions
	o.register(fs)
	if code, done := parseSubcommand(fs, args, false); done {
		return code
	}
	log := newLogger(stderr)
	h, err := o.handler()
	if err != nil {
		log.Error("fcgi", "err", err)
		return 2
	}
	l, err := fcgiListener(*addr)
	if err != nil {
		log.Error("fcgi", "err", err)
		return 1
	}
	s := &fcgi.Server{Handler: h, Logger: log, FixIISPathInfo: *iisFix, StderrToLog: *toLog}
	if v := os.Getenv("FCGI_WEB_SERVER_ADDRS"); v != "" {
		s.WebServerAddrs = strings.Split(v, ",")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	select {
	case err = <-served:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := s.Shutdown(sctx); err != nil {
			log.Error("fcgi: shutdown", "err", err)
			return 1
		}
		err = <-served
	}
	if err != nil && !errors.Is(err, fcgi.ErrServerClosed) {
		log.Error("fcgi", "err", err)
		return 1
	}
	return 0
}

// fcgiListener listens on addr, or takes the listening socket on file
// descriptor 0 when addr is empty.
func fcgiListener(addr string) (net.Listener, error) {
	if addr != "" {
		return listen(addr)
	}
	f := os.NewFile(0, "stdin")
	defer f.Close()
	l, err := net.FileListener(f)
	if err != nil {
		return nil, errors.New("cgiref: no -listen and file descriptor 0 is not a listening socket")
	}
	return l, nil
}

// stdinIsListener reports whether file descriptor 0 is a listening socket,
// as when a web server spawns cgiref as a FastCGI application.
func stdinIsListener() bool { return fcgi.StdinIsListener() }
