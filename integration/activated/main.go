//go:build integration

// Command activated is the service of the socket-activation tests: a
// FastCGI responder on the sockets it inherits (systemd's LISTEN_FDS, else
// file descriptor 0), which tells the service manager READY=1 (with its
// process id as the status) and STOPPING=1, and on SIGTERM finishes its
// requests in flight before it exits. Each answer is "pid N" after a short
// pause, so that a restart always meets requests in flight.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/cgiref/cgiref/fcgi"
	"github.com/cgiref/cgiref/internal/listen"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ls, err := listen.Inherited()
	if err != nil || len(ls) == 0 {
		log.Error("activated: no inherited listener", "err", err)
		os.Exit(1)
	}
	pid := strconv.Itoa(os.Getpid())
	s := &fcgi.Server{Logger: log, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
		fmt.Fprintf(w, "pid %s", pid)
	})}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var wg sync.WaitGroup
	for _, l := range ls {
		wg.Go(func() { s.Serve(l) })
	}
	listen.Ready("pid " + pid)
	<-ctx.Done()
	listen.Stopping("pid " + pid)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		log.Error("activated: shutdown", "err", err)
	}
	wg.Wait()
}
