// Command cgirefscgi is a benchmark backend: an SCGI server built on
// github.com/cgiref/cgiref/scgi, serving the same hello-world handler as the
// FastCGI backends so that scripts/bench.sh compares like with like.
//
// Usage:
//
//	cgirefscgi [-listen 127.0.0.1:9000] [-cpuprofile FILE] [-memprofile FILE [-memprofilerate N]]
//
// It stops on SIGINT or SIGTERM, writing the profiles first.
package main

import (
	"github.com/cgiref/cgiref/scgi"
	"github.com/cgiref/cgiref/scripts/bench/internal/hello"
)

func main() { hello.Main("cgirefscgi", scgi.Serve) }
