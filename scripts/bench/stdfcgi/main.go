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
	"context"
	"fmt"
	"net/http/fcgi"
	"os"
	"os/signal"
	"syscall"

	"github.com/cgiref/cgiref/scripts/bench/internal/hello"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := hello.Run(ctx, "stdfcgi", os.Args[1:], os.Stderr, fcgi.Serve)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
