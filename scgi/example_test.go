package scgi_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cgiref/cgiref/gateway"
	"github.com/cgiref/cgiref/scgi"
)

// Serve an application to a web server on the same host. With nginx:
//
//	location / {
//		include scgi_params;
//		scgi_pass 127.0.0.1:4000;
//	}
func ExampleServe() {
	l, err := net.Listen("tcp", "127.0.0.1:4000")
	if err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello from %s\n", gateway.Environ(r)["SERVER_SOFTWARE"])
	})
	log.Fatal(scgi.Serve(l, nil))
}

// Run a Server on a unix socket and stop it gracefully on SIGTERM.
func ExampleServer_Shutdown() {
	l, err := net.Listen("unix", "/run/app/scgi.sock")
	if err != nil {
		log.Fatal(err)
	}
	s := &scgi.Server{
		Handler:      http.FileServer(http.Dir("/srv/www")),
		MaxConns:     256,
		WriteTimeout: time.Minute,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	shutdownDone := make(chan struct{})
	go func() {
		defer close(shutdownDone)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(sctx); err != nil {
			log.Printf("shutdown: %v", err)
		}
	}()
	// Serve returns as soon as Shutdown begins; the requests in flight end
	// when Shutdown returns, and main must not return before.
	if err := s.Serve(l); !errors.Is(err, scgi.ErrServerClosed) {
		log.Fatal(err)
	}
	<-shutdownDone
}

// Admit TCP connections only from the web server's host.
func ExampleServer_allowedAddrs() {
	s := &scgi.Server{
		Handler:      http.NotFoundHandler(),
		AllowedAddrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/32")},
	}
	l, err := net.Listen("tcp", "192.0.2.20:4000")
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(s.Serve(l))
}
