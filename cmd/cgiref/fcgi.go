package main

import (
	"flag"
	"io"
	"os"
	"strings"

	"github.com/cgiref/cgiref/fcgi"
	substrate "github.com/cgiref/cgiref/internal/server"
)

// runFCGI serves FastCGI on every -listen address, or on the sockets the
// process inherited (systemd socket activation, or file descriptor 0), until
// SIGINT or SIGTERM; then it stops gracefully.
func runFCGI(args []string, stderr io.Writer) int {
	fs := subcommandFlags("fcgi", "cgiref fcgi [-listen ADDR|unix:PATH]... [-socket-mode 0660] [-socket-group NAME] [-pid-file FILE] [limits] [-app demo|echo|files|check] [-dir DIR] [-validate] [-iis] [-stderr-to-log]", stderr)
	lo := listenFlags(fs)
	pidFile := pidFileFlag(fs)
	s := &fcgi.Server{}
	fcgiLimitFlags(fs, s)
	iisFix := fs.Bool("iis", false, "apply the IIS PATH_INFO fix-up to every request")
	toLog := fs.Bool("stderr-to-log", false, "the same as -errors log")
	obs := observeFlags(fs)
	var o appOptions
	log, h, code, done := o.setup(fs, args, false, stderr)
	if done {
		return code
	}
	defer o.Close()
	s.Handler, s.Logger, s.FixIISPathInfo = h, log, *iisFix
	if *toLog {
		obs.errors = "log"
	}
	if v := os.Getenv("FCGI_WEB_SERVER_ADDRS"); v != "" {
		var err error
		if s.AllowedAddrs, err = substrate.ParseAddrs(strings.Split(v, ",")); err != nil {
			log.Error("fcgi: FCGI_WEB_SERVER_ADDRS", "err", err)
			return 2
		}
	}
	return runGatewayServer("fcgi", args, log, s, observed{&s.PingPath, &s.SlowRequest, &s.Errors, &s.AccessLog}, obs, lo, *pidFile, o.app)
}

// fcgiLimitFlags registers a flag for every limit and timeout of s, with
// the library's defaults.
func fcgiLimitFlags(fs *flag.FlagSet, s *fcgi.Server) {
	fs.IntVar(&s.MaxConns, "max-conns", 0, "connections served at once (0: no limit)")
	fs.IntVar(&s.MaxRequests, "max-requests", fcgi.DefaultMaxRequests, "requests in flight over all connections; more get FCGI_OVERLOADED (-1: no limit)")
	fs.IntVar(&s.RequestQueue, "request-queue", 0, "requests past -max-requests that wait for a slot instead of being refused")
	fs.DurationVar(&s.RequestQueueTimeout, "request-queue-timeout", fcgi.DefaultReadHeaderTimeout, "longest wait in the request queue")
	fs.IntVar(&s.MaxConnRequests, "max-conn-requests", fcgi.DefaultMaxConnRequests, "requests in flight on one connection; more get FCGI_OVERLOADED")
	fs.IntVar(&s.MaxHeaderBytes, "max-header-bytes", fcgi.DefaultMaxHeaderBytes, "largest PARAMS stream of a request; a larger one is answered 431")
	fs.Int64Var(&s.MaxHeaderMemory, "max-header-memory", fcgi.DefaultMaxHeaderMemory, "PARAMS bytes held at once by requests not started; past it 503 (-1: no limit)")
	fs.Int64Var(&s.MaxBodyBytes, "max-body-bytes", fcgi.DefaultMaxBodyBytes, "largest request body; a larger declared one is answered 413 (-1: no limit)")
	fs.Int64Var(&s.SpoolMemory, "spool-memory", 1<<20, "bytes of a request body held in memory before a temporary file")
	fs.Int64Var(&s.MaxSpoolMemory, "max-spool-memory", fcgi.DefaultMaxSpoolMemory, "unread body bytes held in memory over all requests; past it they go to disk (-1: no limit)")
	fs.Int64Var(&s.MaxSpoolDisk, "max-spool-disk", fcgi.DefaultMaxSpoolDisk, "unread body bytes held on disk over all requests; past it a body fails (-1: no limit)")
	fs.StringVar(&s.TempDir, "temp-dir", "", "folder of the temporary files of request bodies (default: the system's)")
	fs.DurationVar(&s.ReadHeaderTimeout, "read-header-timeout", fcgi.DefaultReadHeaderTimeout, "time a new connection has to begin a request, and a request to send its PARAMS")
	fs.DurationVar(&s.IdleTimeout, "idle-timeout", fcgi.DefaultIdleTimeout, "close a connection with no request in flight after this long")
	fs.DurationVar(&s.ReadTimeout, "read-timeout", fcgi.DefaultReadTimeout, "close a connection that waits this long for a request's input")
	fs.DurationVar(&s.WriteTimeout, "write-timeout", fcgi.DefaultWriteTimeout, "close a connection whose write to the web server takes this long")
	fs.DurationVar(&s.RequestTimeout, "request-timeout", 0, "end a handler that runs this long: 503 before its answer began, cut after (0: no limit)")
}

// stdinIsListener reports whether file descriptor 0 is a listening socket,
// as when a web server spawns cgiref as a FastCGI application.
func stdinIsListener() bool { return fcgi.StdinIsListener() }
