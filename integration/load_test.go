//go:build integration

package integration

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// load is steady, bounded GET traffic against the check app's /pid: at
// most total requests from a fixed number of workers, until Stop or a
// deadline. It counts the answers per process and the failures.
type load struct {
	url      string
	total    int64
	deadline time.Time
	client   *http.Client

	sent, failed atomic.Int64
	firstErr     atomic.Value // string
	stop         chan struct{}
	wg           sync.WaitGroup

	mu   sync.Mutex
	pids map[string]int64 // "pid N" -> answers
}

// startLoad starts workers sending GET url until total requests were sent,
// limit passed, or Stop.
func startLoad(url string, workers int, total int64, limit time.Duration) *load {
	ld := &load{
		url: url, total: total, deadline: time.Now().Add(limit),
		client: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
			Proxy: nil, DisableCompression: true, MaxIdleConnsPerHost: workers,
		}},
		stop: make(chan struct{}),
		pids: map[string]int64{},
	}
	for range workers {
		ld.wg.Go(ld.work)
	}
	return ld
}

func (ld *load) work() {
	for {
		select {
		case <-ld.stop:
			return
		default:
		}
		if time.Now().After(ld.deadline) || ld.sent.Add(1) > ld.total {
			return
		}
		pid, err := ld.get()
		if err != nil {
			ld.failed.Add(1)
			ld.firstErr.CompareAndSwap(nil, err.Error())
			continue
		}
		ld.mu.Lock()
		ld.pids[pid]++
		ld.mu.Unlock()
	}
}

// get sends one request and returns the answer's "pid N".
func (ld *load) get() (string, error) {
	resp, err := ld.client.Get(ld.url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	body := strings.TrimSpace(string(b))
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "pid ") || resp.Header.Get("X-Pid") != strings.TrimPrefix(body, "pid ") {
		return "", fmt.Errorf("answer %d %q (X-Pid %q)", resp.StatusCode, clip(b), resp.Header.Get("X-Pid"))
	}
	return body, nil
}

// waitSent waits until n requests were sent (or the load ended).
func (ld *load) waitSent(n int64) {
	for ld.done() < n && time.Now().Before(ld.deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// done returns how many requests were sent.
func (ld *load) done() int64 { return min(ld.sent.Load(), ld.total) }

// finish stops the workers once until requests were sent (or the
// deadline passed) and waits for them; it logs the counts and fails t on
// any failure.
func (ld *load) finish(t *testing.T, what string, until int64) map[string]int64 {
	t.Helper()
	ld.waitSent(until)
	close(ld.stop)
	ld.wg.Wait()
	ld.client.CloseIdleConnections()
	n, failed := ld.done(), ld.failed.Load()
	t.Logf("%s: requests %d, failed %d, answers per process %v", what, n, failed, ld.pids)
	if failed != 0 {
		t.Errorf("%s: %d of %d requests failed; first: %v", what, failed, n, ld.firstErr.Load())
	}
	if n == 0 {
		t.Errorf("%s: no request was sent", what)
	}
	return ld.pids
}
