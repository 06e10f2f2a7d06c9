// Command cgireffcgi is a benchmark backend: a FastCGI responder built on
// github.com/cgiref/cgiref/fcgi, serving the same hello-world handler as the
// net/http/fcgi backend (stdfcgi) so that scripts/bench.sh compares like with
// like.
//
// Usage:
//
//	cgireffcgi [-listen 127.0.0.1:9000] [-cpuprofile FILE] [-memprofile FILE [-memprofilerate N]]
//
// It stops on SIGINT or SIGTERM, writing the profiles first.
package main

import (
	"github.com/cgiref/cgiref/fcgi"
	"github.com/cgiref/cgiref/scripts/bench/internal/hello"
)

func main() { hello.Main("cgireffcgi", fcgi.Serve) }
