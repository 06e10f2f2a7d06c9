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
	"runtime/pprof"
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

// Run parses args (-listen ADDR, -cpuprofile FILE), listens on ADDR and
// serves Handler with serve until ctx is done; then it closes the listener,
// writes the CPU profile when one was asked for, and returns. name is the
// program name used in usage and error messages.
func Run(ctx context.Context, name string, args []string, stderr io.Writer, serve ServeFunc) (err error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("listen", "127.0.0.1:9000", "TCP address to listen on")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%s: unexpected arguments %q", name, fs.Args())
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
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
