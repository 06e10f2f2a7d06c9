package main

import (
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/cgiref/cgiref/simple"
)

// runServe runs the HTTP demo server until SIGINT or SIGTERM.
func runServe(args []string, stderr io.Writer) int {
	fs := subcommandFlags("serve", "cgiref serve [-listen HOST:PORT] [-app demo|echo|files|check] [-dir DIR] [-validate]", stderr)
	addr := fs.String("listen", "127.0.0.1:8000", "the `HOST:PORT` to listen on (port 0: any free port)")
	var o appOptions
	log, h, code, done := o.setup(fs, args, false, stderr)
	if done {
		return code
	}
	defer o.Close()
	host, port, err := splitListen(*addr)
	if err != nil {
		log.Error("serve", "err", err)
		return 2
	}
	srv, err := simple.MakeServer(host, port, h)
	if err != nil {
		log.Error("serve", "err", err)
		return 1
	}
	srv.Errors = stderr
	log.Info("serving HTTP", "addr", srv.Addr().String(), "app", o.app)
	return runUntilSignal(log, server{name: "serve", serve: srv.ServeForever, shutdown: srv.Shutdown})
}

// splitListen splits HOST:PORT for simple.MakeServer.
func splitListen(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("cgiref: -listen: %w", err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("cgiref: -listen: bad port %q", p)
	}
	return host, port, nil
}
