package fcgi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/cgiref/cgiref/fcgi"
	"github.com/cgiref/cgiref/gateway"
)

// Serve as a drop-in for net/http/fcgi: with a nil listener, the socket a
// web server passes on file descriptor 0.
func ExampleServe() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello, %s\n", fcgi.ProcessEnv(r)["REMOTE_USER"])
	})
	if err := fcgi.Serve(nil, nil); err != nil {
		log.Fatal(err)
	}
}

// A Server with limits, timeouts and a graceful stop on interrupt.
func ExampleServer_Shutdown() {
	l, err := net.Listen("tcp", "127.0.0.1:9000")
	if err != nil {
		log.Fatal(err)
	}
	s := &fcgi.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(gateway.Errors(r), "this line goes to the web server's error log")
			io.WriteString(w, "Hello\n")
		}),
		MaxRequests: 100,
		IdleTimeout: time.Minute,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
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
	if err := s.Serve(l); !errors.Is(err, fcgi.ErrServerClosed) {
		log.Fatal(err)
	}
	<-shutdownDone
}

// A FILTER request reads the file to filter with Data.
func ExampleData() {
	copyData := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.Copy(w, fcgi.Data(r))
	})
	_ = &fcgi.Server{Handler: copyData}
}
