// Command stdfcgi is a benchmark backend: a FastCGI responder built on the
// standard library's net/http/fcgi, serving the same hello-world handler as
// the cgiref backends so that scripts/bench.sh compares like with like.
//
// Usage:
//
//	stdfcgi [-listen 127.0.0.1:9000] [-cpuprofile FILE] [-memprofile FILE [-memprofilerate N]]
//
// It stops on SIGINT or SIGTERM, writing the profiles first.
package main

import (
	"net/http/fcgi"

	"github.com/cgiref/cgiref/scripts/bench/internal/hello"
)

func main() { hello.Main("stdfcgi", fcgi.Serve) }
