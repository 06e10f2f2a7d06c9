package fcgi_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cgiref/cgiref/fcgi"
)

// Every listening mode below stops the same way: on SIGTERM or an
// interrupt, Shutdown closes the listener, lets the requests in flight
// finish, and returns. Serve returns ErrServerClosed as soon as Shutdown
// begins, so main must wait for Shutdown to return as well, or the process
// would exit under the requests still running.

// Serve on a TCP address (the web server connects to 127.0.0.1:9000).
func ExampleServer_Serve_tcp() {
	l, err := net.Listen("tcp", "127.0.0.1:9000")
	if err != nil {
		log.Fatal(err)
	}
	s := &fcgi.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "Hello\n")
	})}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	shutdownDone := make(chan struct{})
	go func() {
		defer close(shutdownDone)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(sctx); err != nil {
			log.Printf("shutdown: %v", err) // requests still running were cut
		}
	}()
	if err := s.Serve(l); !errors.Is(err, fcgi.ErrServerClosed) {
		log.Fatal(err)
	}
	<-shutdownDone // the requests in flight have finished
}

// Serve on a unix socket. The web server's user needs write permission
// on the socket file: here its group (such as www-data, which the process
// must belong to) gets read and write. Closing the listener removes the
// file. (`cgiref fcgi -listen unix:PATH -socket-mode 0660 -socket-group
// www-data` does the same, and also removes a stale socket left by a
// crash.)
func ExampleServer_Serve_unix() {
	const path = "/run/app/fcgi.sock"
	l, err := net.Listen("unix", path)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		log.Fatal(err)
	}
	s := &fcgi.Server{Handler: http.FileServer(http.Dir("/srv/www"))}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
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
	if err := s.Serve(l); !errors.Is(err, fcgi.ErrServerClosed) {
		log.Fatal(err)
	}
	<-shutdownDone
}

// Serve the sockets the process inherited: with a nil listener, Serve
// takes the sockets systemd passes (socket activation: LISTEN_FDS), else
// the listening socket on file descriptor 0 (how lighttpd, mod_fcgid and
// IIS pass it).
func ExampleServer_Serve_inherited() {
	s := &fcgi.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "Hello\n")
	})}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
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
	if err := s.Serve(nil); !errors.Is(err, fcgi.ErrServerClosed) {
		log.Fatal(err)
	}
	<-shutdownDone
}
