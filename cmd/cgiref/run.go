package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// shutdownGrace is how long a server stopped by SIGINT or SIGTERM waits for
// its requests in flight.
const shutdownGrace = 10 * time.Second

// server is what runUntilSignal drives: fcgi.Server, scgi.Server, or the
// demo server.
type server struct {
	name     string
	serve    func() error
	shutdown func(context.Context) error
	closed   error // the error serve returns after shutdown
}

// runUntilSignal serves until serve fails or SIGINT/SIGTERM arrives, then
// shuts down gracefully; it returns the exit status.
func runUntilSignal(log *slog.Logger, s server) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- s.serve() }()
	var err error
	select {
	case err = <-served:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := s.shutdown(sctx); err != nil {
			log.Error(s.name+": shutdown", "err", err)
			return 1
		}
		err = <-served
	}
	if err != nil && (s.closed == nil || !errors.Is(err, s.closed)) {
		log.Error(s.name, "err", err)
		return 1
	}
	log.Info(s.name + ": stopped")
	return 0
}
