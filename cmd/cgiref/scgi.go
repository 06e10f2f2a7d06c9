package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/cgiref/cgiref/scgi"
)

// runSCGI serves SCGI on every -listen address, or on the sockets the
// process inherited (systemd socket activation, or file descriptor 0),
// until SIGINT or SIGTERM; then it stops gracefully.
func runSCGI(args []string, stderr io.Writer) int {
	fs := subcommandFlags("scgi", "cgiref scgi -listen ADDR|unix:PATH... [-socket-mode 0660] [-socket-group NAME] [-pid-file FILE] [-allow PREFIX,...] [limits] [-app demo|echo|files|check] [-dir DIR] [-validate]", stderr)
	lo := listenFlags(fs)
	pidFile := pidFileFlag(fs)
	allow := fs.String("allow", "", "comma-separated address prefixes TCP connections may come from, such as 127.0.0.1/32 (default: all)")
	s := &scgi.Server{}
	scgiLimitFlags(fs, s)
	obs := observeFlags(fs)
	var o appOptions
	log, h, code, done := o.setup(fs, args, false, stderr)
	if done {
		return code
	}
	defer o.Close()
	allowed, err := parsePrefixes(*allow)
	if err != nil {
		log.Error("scgi", "err", err)
		return 2
	}
	s.Handler, s.Logger, s.AllowedAddrs = h, log, allowed
	return runGatewayServer("scgi", args, log, s, observed{&s.PingPath, &s.SlowRequest, &s.Errors, &s.AccessLog}, obs, lo, *pidFile, o.app)
}

// scgiLimitFlags registers a flag for every limit and timeout of s, with
// the library's defaults.
func scgiLimitFlags(fs *flag.FlagSet, s *scgi.Server) {
	fs.IntVar(&s.MaxConns, "max-conns", 0, "connections served at once (0: no limit)")
	fs.IntVar(&s.MaxHeaderBytes, "max-header-bytes", scgi.DefaultMaxHeaderBytes, "largest SCGI header block accepted")
	fs.Int64Var(&s.MaxBodyBytes, "max-body-bytes", scgi.DefaultMaxBodyBytes, "largest request body; a larger one is answered 413 (-1: no limit)")
	fs.Int64Var(&s.SpoolMemory, "spool-memory", 1<<20, "bytes of a request body held in memory before a temporary file")
	fs.StringVar(&s.TempDir, "temp-dir", "", "folder of the temporary files of request bodies (default: the system's)")
	fs.DurationVar(&s.ReadHeaderTimeout, "read-header-timeout", scgi.DefaultReadHeaderTimeout, "close a connection whose header block takes longer")
	fs.DurationVar(&s.ReadTimeout, "read-timeout", scgi.DefaultReadTimeout, "fail a body read that waits this long")
	fs.DurationVar(&s.WriteTimeout, "write-timeout", scgi.DefaultWriteTimeout, "fail a write to the web server that takes this long")
	fs.DurationVar(&s.RequestTimeout, "request-timeout", 0, "end a handler that runs this long: 503 before its answer began, cut after (0: no limit)")
}

// parsePrefixes parses a comma-separated list of address prefixes; a bare
// address stands for itself alone. An empty list means nil (all allowed).
func parsePrefixes(list string) ([]netip.Prefix, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("scgi: -allow: %q is neither an address nor a prefix", f)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
