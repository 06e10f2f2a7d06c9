//go:build integration

// Command cgiprobe is a CGI program for the integration tests (see
// integration/cgistop_test.go): a handler behind cgi.Serve that shows what a
// real web server does to a CGI program and what http.ResponseController
// can do under CGI. It logs to standard error, one line per event.
//
// The query parameter grace sets cgi.Server.Grace (a time.Duration; none:
// the default).
//
//   - PATH_INFO /linger: writes "line N" and flushes every 200 ms, 50 times;
//     when its request context is done it logs "linger: cancelled after N
//     lines: CAUSE", then goes on cleaning up for the duration in the query's
//     cleanup parameter (250 ms steps, each logged as "linger: cleanup N"),
//     then logs "linger: cleaned up" and returns.
//   - PATH_INFO /controller: answers one line per http.ResponseController
//     method, "NAME: nil" or "NAME: ERROR (not supported)" when the error is
//     http.ErrNotSupported, after reading the body.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/cgiref/cgiref/cgi"
	"github.com/cgiref/cgiref/gateway"
)

func main() {
	// The query's grace parameter sets the grace period of cgi.Server.
	q, _ := url.ParseQuery(os.Getenv("QUERY_STRING"))
	grace, _ := time.ParseDuration(q.Get("grace"))
	s := &cgi.Server{Handler: http.HandlerFunc(probe), Grace: grace}
	if err := s.Serve(); err != nil {
		fmt.Fprintf(os.Stderr, "cgiprobe: serve: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "cgiprobe: served")
}

func probe(w http.ResponseWriter, r *http.Request) {
	switch gateway.Environ(r)["PATH_INFO"] {
	case "/linger":
		linger(w, r)
	case "/controller":
		controller(w, r)
	default:
		http.NotFound(w, r)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "cgiprobe: "+format+"\n", args...)
}

func linger(w http.ResponseWriter, r *http.Request) {
	cleanup, err := time.ParseDuration(r.URL.Query().Get("cleanup"))
	if err != nil {
		http.Error(w, "cleanup: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rc := http.NewResponseController(w)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for i := range 50 {
		fmt.Fprintf(w, "line %d\n", i)
		rc.Flush()
		select {
		case <-tick.C:
			continue
		case <-r.Context().Done():
		}
		logf("linger: cancelled after %d lines: %v", i+1, context.Cause(r.Context()))
		const step = 250 * time.Millisecond
		for n := 1; time.Duration(n)*step <= cleanup; n++ {
			time.Sleep(step)
			logf("linger: cleanup %d", n)
		}
		logf("linger: cleaned up")
		return
	}
	logf("linger: done")
}

func controller(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	results := []struct {
		name string
		err  error
	}{
		{"SetReadDeadline", rc.SetReadDeadline(time.Now().Add(10 * time.Second))},
		{"SetWriteDeadline", rc.SetWriteDeadline(time.Now().Add(10 * time.Second))},
		{"EnableFullDuplex", rc.EnableFullDuplex()},
	}
	_, _, hijackErr := rc.Hijack()
	results = append(results, struct {
		name string
		err  error
	}{"Hijack", hijackErr})
	n, err := io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	for _, res := range results {
		switch {
		case res.err == nil:
			fmt.Fprintf(w, "%s: nil\n", res.name)
		case errors.Is(res.err, http.ErrNotSupported):
			fmt.Fprintf(w, "%s: %v (not supported)\n", res.name, res.err)
		default:
			fmt.Fprintf(w, "%s: %v\n", res.name, res.err)
		}
	}
	fmt.Fprintf(w, "body: %d bytes, error %v\n", n, err)
	fmt.Fprintf(w, "Flush: %v\n", rc.Flush())
}
