package stats

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime/pprof"
	"sync/atomic"
	"time"
)

// requestLabel is the pprof label that marks a request's goroutines.
const requestLabel = "cgiref_request"

var requestSeq atomic.Uint64

// WatchSlow labels the calling goroutine (and the goroutines it starts)
// as serving one request, and logs the request with the stack of its
// goroutines once it has run longer than after: method, URI, elapsed time.
// It logs once per request. The returned function ends the watch; it must
// be called when the request ends.
func WatchSlow(ctx context.Context, log *slog.Logger, after time.Duration, method, uri string, c *Counters) (stop func()) {
	id := fmt.Sprint(requestSeq.Add(1))
	prev := ctx
	pprof.SetGoroutineLabels(pprof.WithLabels(ctx, pprof.Labels(requestLabel, id)))
	start := time.Now()
	t := time.AfterFunc(after, func() {
		c.Slow()
		log.Warn("slow request", "method", method, "uri", uri, "elapsed", time.Since(start).Round(time.Millisecond), "stack", string(StackOf(id)))
	})
	return func() {
		t.Stop()
		pprof.SetGoroutineLabels(prev)
	}
}

// StackOf returns the stacks of the goroutines labelled with request id,
// from the goroutine profile.
func StackOf(id string) []byte {
	var buf bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&buf, 1)
	want := []byte(fmt.Sprintf("%q:%q", requestLabel, id))
	var out []byte
	for _, rec := range bytes.Split(buf.Bytes(), []byte("\n\n")) {
		if bytes.Contains(rec, want) {
			out = append(out, rec...)
			out = append(out, '\n')
		}
	}
	return out
}
