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
	// ready, when set, is called once serve runs and the signals are
	// watched.
	ready func()
	// restart, when set, is called on SIGHUP: it hands the listeners to a
	// new process and returns nil once that process serves; then this one
	// shuts down gracefully. An error leaves this process serving.
	restart func(context.Context) error
}

// runUntilSignal serves until serve fails or SIGINT/SIGTERM arrives, or a
// SIGHUP restart has handed the listeners over, then shuts down
// gracefully; it returns the exit status.
func runUntilSignal(log *slog.Logger, s server) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	if s.restart != nil {
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
	}
	served := make(chan error, 1)
	go func() { served <- s.serve() }()
	if s.ready != nil {
		s.ready()
	}
	// SIGTERM cancels a restart under way (the new process is killed).
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	restarted := make(chan error, 1)
	restarting := false
	var err error
wait:
	for {
		select {
		case err = <-served:
			break wait
		case <-hup:
			if restarting {
				log.Warn(s.name + ": SIGHUP ignored: a restart is under way")
				continue
			}
			restarting = true
			go func() { restarted <- s.restart(rctx) }()
		case rerr := <-restarted:
			restarting = false
			if rerr != nil {
				log.Error(s.name+": restart failed; serving on", "err", rerr)
				continue
			}
			log.Info(s.name + ": handed over to the new process; stopping")
			return shutdownServer(log, s, served)
		case <-ctx.Done():
			cancel()
			if restarting {
				<-restarted
			}
			return shutdownServer(log, s, served)
		}
	}
	return servedStatus(log, s, err)
}

// shutdownServer shuts s down gracefully and returns the exit status.
func shutdownServer(log *slog.Logger, s server, served <-chan error) int {
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := s.shutdown(sctx); err != nil {
		log.Error(s.name+": shutdown", "err", err)
		return 1
	}
	return servedStatus(log, s, <-served)
}

// servedStatus logs how serve ended and returns the exit status.
func servedStatus(log *slog.Logger, s server, err error) int {
	if err != nil && (s.closed == nil || !errors.Is(err, s.closed)) {
		log.Error(s.name, "err", err)
		return 1
	}
	log.Info(s.name + ": stopped")
	return 0
}
