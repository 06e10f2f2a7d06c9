// Command gofloor is a benchmark calibration backend: the least a Go
// FastCGI responder can do for a request on a connection of its own. It
// reads the request's records up to the end of FCGI_STDIN, writes one fixed
// answer (the hello-world handler's, byte for byte as cgireffcgi sends it)
// with END_REQUEST, and closes the connection. It builds no request and runs
// no handler, so scripts/bench.sh's "Go floor" row is what the Go runtime and
// the kernel alone cost per connection (accept, netpoll registration, a
// read, a write, a close) behind nginx: a bound for any Go backend that
// opens a connection per request.
//
// Usage:
//
//	gofloor [-listen 127.0.0.1:9000] [-cpuprofile FILE] [-memprofile FILE [-memprofilerate N]]
//
// It stops on SIGINT or SIGTERM, writing the profiles first.
package main

import (
	"github.com/cgiref/cgiref/scripts/bench/internal/floor"
	"github.com/cgiref/cgiref/scripts/bench/internal/hello"
)

func main() { hello.Main("gofloor", floor.Serve) }
