package main

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"

	"github.com/cgiref/cgiref/scgi"
)

// runSCGI serves SCGI on -listen until SIGINT or SIGTERM; then it stops
// gracefully.
func runSCGI(args []string, stderr io.Writer) int {
	fs := subcommandFlags("scgi", "cgiref scgi -listen ADDR|unix:PATH [-allow PREFIX,...] [-max-conns N] [-max-header-bytes N] [-app demo|echo|files|check] [-dir DIR] [-validate]", stderr)
	addr := fs.String("listen", "", "listen on host:port or unix:PATH (required; SCGI has no authentication: use a unix socket or a loopback address)")
	allow := fs.String("allow", "", "comma-separated address prefixes TCP connections may come from, such as 127.0.0.1/32 (default: all)")
	maxConns := fs.Int("max-conns", 0, "connections served at once (0: no limit)")
	maxHeader := fs.Int("max-header-bytes", scgi.DefaultMaxHeaderBytes, "largest SCGI header block accepted")
	var o appOptions
	log, h, code, done := o.setup(fs, args, false, stderr)
	if done {
		return code
	}
	defer o.Close()
	if *addr == "" {
		fmt.Fprintln(stderr, "scgi: -listen is required")
		fs.Usage()
		return 2
	}
	allowed, err := parsePrefixes(*allow)
	if err != nil {
		log.Error("scgi", "err", err)
		return 2
	}
	l, err := listen(*addr)
	if err != nil {
		log.Error("scgi", "err", err)
		return 1
	}
	s := &scgi.Server{Handler: h, Logger: log, AllowedAddrs: allowed, MaxConns: *maxConns, MaxHeaderBytes: *maxHeader}
	log.Info("scgi: serving", "listen", l.Addr().String(), "app", o.app)
	return runUntilSignal(log, server{name: "scgi", serve: func() error { return s.Serve(l) }, shutdown: s.Shutdown, closed: http.ErrServerClosed})
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
