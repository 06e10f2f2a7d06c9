package server

import (
	"bytes"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// goroutineID is the running goroutine's number, from its stack header.
func goroutineID() uint64 {
	b := make([]byte, 64)
	b = b[:runtime.Stack(b, false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	id, _ := strconv.ParseUint(string(b[:bytes.IndexByte(b, ' ')]), 10, 64)
	return id
}

// waitIdle waits until n workers wait for work.
func waitIdle(t *testing.T, s *Server, n int32) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.idleWorkers.Load() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle workers, want %d", s.idleWorkers.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWorkersReused: a connection's goroutine serves the next connection,
// at most maxIdleWorkers wait, and they end with the server.
func TestWorkersReused(t *testing.T) {
	s := &Server{}
	s.init()
	ids := make(chan uint64, 1)
	s.goServe(func() { ids <- goroutineID() })
	first := <-ids
	waitIdle(t, s, 1)
	s.goServe(func() { ids <- goroutineID() })
	if second := <-ids; second != first {
		t.Errorf("second connection served by goroutine %d, want the first's, %d", second, first)
	}
	waitIdle(t, s, 1)

	// Many at once: each needs a goroutine; then only maxIdleWorkers stay.
	release := make(chan struct{})
	started := make(chan struct{}, 2*maxIdleWorkers)
	for range 2 * maxIdleWorkers {
		s.goServe(func() { started <- struct{}{}; <-release })
	}
	for range 2 * maxIdleWorkers {
		<-started
	}
	close(release)
	waitIdle(t, s, maxIdleWorkers)

	before := runtime.NumGoroutine()
	s.Close()
	waitIdle(t, s, 0)
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before-maxIdleWorkers {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, want at most %d", runtime.NumGoroutine(), before-maxIdleWorkers)
		}
		time.Sleep(time.Millisecond)
	}
}
