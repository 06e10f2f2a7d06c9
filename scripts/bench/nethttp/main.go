// Command nethttp is a benchmark backend: the standard library's
// net/http.Server serving the same hello-world handler as the FastCGI and
// SCGI backends, for scripts/bench.sh's row of nginx proxy_pass in front of
// net/http (the alternative to a gateway protocol).
//
// The server has the zero value's settings (no timeouts, HTTP/1.1 keep-alive
// on), like the net/http/fcgi and cgiref backends.
//
// Usage:
//
//	nethttp [-listen 127.0.0.1:9000] [-cpuprofile FILE] [-memprofile FILE [-memprofilerate N]]
//
// It stops on SIGINT or SIGTERM, writing the profiles first.
package main

import (
	"net"
	"net/http"

	"github.com/cgiref/cgiref/scripts/bench/internal/hello"
)

func main() { hello.Main("nethttp", serve) }

// serve serves h over HTTP on l until l is closed.
func serve(l net.Listener, h http.Handler) error {
	return (&http.Server{Handler: h}).Serve(l)
}
