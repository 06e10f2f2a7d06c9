// Package hello holds what the benchmark backends in scripts/bench share: the
// handler they all serve, so that every configuration compares the same
// application, and the driver that parses the command line, listens,
// profiles and stops.
package hello

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
)

// Body is the answer of Handler.
const Body = "Hello world!\n"

// Handler answers every request with Body as text/plain.
func Handler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, Body)
}

// ServeFunc serves handler on l until l is closed; fcgi.Serve and scgi.Serve
// have this signature.
type ServeFunc func(l net.Listener, handler http.Handler) error

// Run parses args (-listen ADDR, -cpuprofile FILE, -memprofile FILE,
// -memprofilerate N), listens on ADDR and serves Handler with serve until ctx
// is done; then it closes the listener, writes the profiles that were asked
// for, and returns. name is the program name used in usage and error
// messages.
//
// The memory profile is the allocation profile of the whole run (pprof's
// "allocs": alloc_objects and alloc_space, plus what is in use at the end).
// -memprofilerate sets runtime.MemProfileRate for it (bytes allocated per
// sample; 1 records every allocation); 0 keeps the runtime's default.
func Run(ctx context.Context, name string, args []string, stderr io.Writer, serve ServeFunc) (err error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("listen", "127.0.0.1:9000", "TCP address to listen on")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memProfile := fs.String("memprofile", "", "write an allocation profile of the whole run to this file")
	memRate := fs.Int("memprofilerate", 0, "with -memprofile: bytes allocated per sample (runtime.MemProfileRate); 0: the default")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *memRate < 0 {
		return fmt.Errorf("%s: -memprofilerate must not be negative", name)
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%s: unexpected arguments %q", name, fs.Args())
	}
	// No TCP keep-alive probes on accepted connections, as cmd/cgiref
	// listens: the web server on the other end owns the connection, and the
	// probes cost four setsockopt calls per accepted connection.
	lc := net.ListenConfig{KeepAlive: -1}
	l, err := lc.Listen(ctx, "tcp", *addr)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if *memProfile != "" {
		if *memRate > 0 {
			runtime.MemProfileRate = *memRate
		}
		// Created now, so that a bad path fails before serving.
		f, perr := os.Create(*memProfile)
		if perr != nil {
			l.Close()
			return fmt.Errorf("%s: memory profile: %w", name, perr)
		}
		defer func() {
			if perr := writeAllocs(f); perr != nil && err == nil {
				err = fmt.Errorf("%s: %w", name, perr)
			}
		}()
	}
	if *profile != "" {
		stop, perr := startProfile(*profile)
		if perr != nil {
			l.Close()
			return fmt.Errorf("%s: %w", name, perr)
		}
		defer func() {
			if perr := stop(); perr != nil && err == nil {
				err = fmt.Errorf("%s: %w", name, perr)
			}
		}()
	}
	done := make(chan error, 1)
	go func() { done <- serve(l, http.HandlerFunc(Handler)) }()
	select {
	case serr := <-done:
		l.Close()
		if serr == nil {
			serr = errors.New("stopped before being asked to")
		}
		return fmt.Errorf("%s: serve: %w", name, serr)
	case <-ctx.Done():
	}
	l.Close()
	if serr := <-done; serr != nil && !errors.Is(serr, net.ErrClosed) {
		return fmt.Errorf("%s: serve: %w", name, serr)
	}
	return nil
}

// startProfile starts CPU profiling into the file path; stop ends it and
// closes the file.
func startProfile(path string) (stop func() error, err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		return nil
	}, nil
}

// writeAllocs writes the allocation profile of the run so far to f and
// closes it.
func writeAllocs(f *os.File) error {
	runtime.GC() // the in-use figures as of the last collection: make it now
	err := pprof.Lookup("allocs").WriteTo(f, 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("memory profile: %w", err)
	}
	return nil
}

// Main is a backend's main function: Run with the command line, until
// SIGINT or SIGTERM; it exits with status 1 after printing Run's error.
func Main(name string, serve ServeFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, name, os.Args[1:], os.Stderr, serve)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
