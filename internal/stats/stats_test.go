package stats

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCountersAndHandler(t *testing.T) {
	var c Counters
	c.ConnOpened()
	c.ConnOpened()
	c.ConnClosed()
	c.RequestStarted()
	c.RequestStarted()
	c.RequestEnded(Panicked)
	c.Refused(Overloaded)
	c.BytesIn(10)
	c.BytesOut(20)
	c.Spooled(300)
	h := Handler("test", c.Snapshot)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("/status is not JSON: %v\n%s", err, rec.Body)
	}
	for k, want := range map[string]float64{"requests_total": 2, "requests_in_flight": 1, "connections_open": 1,
		"connections_accepted_total": 2, "bytes_in_total": 10, "bytes_out_total": 20, "bodies_spooled_total": 1, "spool_bytes_total": 300} {
		if got[k] != want {
			t.Errorf("/status %s = %v, want %v", k, got[k], want)
		}
	}
	if got["requests_by_outcome"].(map[string]any)["panicked"] != 1.0 || got["refusals_by_reason"].(map[string]any)["overloaded"] != 1.0 {
		t.Errorf("/status outcomes and refusals: %v %v", got["requests_by_outcome"], got["refusals_by_reason"])
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, line := range []string{
		`# TYPE cgiref_requests_total counter`,
		`cgiref_requests_total{server="test"} 2`,
		`# TYPE cgiref_requests_in_flight gauge`,
		`cgiref_requests_in_flight{server="test"} 1`,
		`cgiref_requests_by_outcome_total{server="test",outcome="panicked"} 1`,
		`cgiref_refusals_total{server="test",reason="overloaded"} 1`,
	} {
		if !strings.Contains(body, line+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", line, body)
		}
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/other", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("/other: %d", rec.Code)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

//go:noinline
func slowHandlerForTest(release chan struct{}) { <-release }

func TestWatchSlow(t *testing.T) {
	var logs syncBuf
	log := slog.New(slog.NewTextHandler(&logs, nil))
	var c Counters
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		stop := WatchSlow(context.Background(), log, 50*time.Millisecond, "GET", "/slow", &c)
		defer stop()
		slowHandlerForTest(release)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "slow request") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	<-done
	out := logs.String()
	if !strings.Contains(out, "slowHandlerForTest") || !strings.Contains(out, "uri=/slow") {
		t.Errorf("slow request log lacks the handler's function or the URI:\n%s", out)
	}
	if c.Snapshot().SlowRequests != 1 {
		t.Errorf("slow requests counted: %d", c.Snapshot().SlowRequests)
	}
}

// BenchmarkRequestCounting is what counting costs a FastCGI request on a
// kept-alive connection: its start and end, three records read and one
// write, serially and from every CPU at once (one shared Counters).
func BenchmarkRequestCounting(b *testing.B) {
	count := func(c *Counters) {
		c.RequestStarted()
		c.BytesIn(64)
		c.BytesIn(300)
		c.BytesIn(8)
		c.BytesOut(120)
		c.RequestEnded(Completed)
	}
	b.Run("serial", func(b *testing.B) {
		var c Counters
		for b.Loop() {
			count(&c)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var c Counters
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				count(&c)
			}
		})
	})
}
