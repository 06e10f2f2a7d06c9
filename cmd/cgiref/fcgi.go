package main

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"

	"github.com/cgiref/cgiref/fcgi"
	substrate "github.com/cgiref/cgiref/internal/server"
)

// runFCGI serves FastCGI on -listen, or on the listening socket a web server
// passes on file descriptor 0, until SIGINT or SIGTERM; then it stops
// gracefully.
func runFCGI(args []string, stderr io.Writer) int {
	fs := subcommandFlags("fcgi", "cgiref fcgi [-listen ADDR|unix:PATH] [-app demo|echo|files|check] [-dir DIR] [-validate] [-iis] [-stderr-to-log]", stderr)
	addr := fs.String("listen", "", "listen on host:port or unix:PATH (default: the listening socket on file descriptor 0)")
	iisFix := fs.Bool("iis", false, "apply the IIS PATH_INFO fix-up to every request")
	toLog := fs.Bool("stderr-to-log", false, "log the application's error output instead of sending FCGI_STDERR (for IIS)")
	var o appOptions
	log, h, code, done := o.setup(fs, args, false, stderr)
	if done {
		return code
	}
	defer o.Close()
	l, err := fcgiListener(*addr)
	if err != nil {
		log.Error("fcgi", "err", err)
		return 1
	}
	s := &fcgi.Server{Handler: h, Logger: log, FixIISPathInfo: *iisFix, StderrToLog: *toLog}
	if v := os.Getenv("FCGI_WEB_SERVER_ADDRS"); v != "" {
		if s.AllowedAddrs, err = substrate.ParseAddrs(strings.Split(v, ",")); err != nil {
			log.Error("fcgi: FCGI_WEB_SERVER_ADDRS", "err", err)
			return 2
		}
	}
	return runUntilSignal(log, server{name: "fcgi", serve: func() error { return s.Serve(l) }, shutdown: s.Shutdown, closed: fcgi.ErrServerClosed})
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
