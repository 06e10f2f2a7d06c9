package server

import (
	"sync"
	"testing"
	"time"
)

// countTicker counts its ticks and leaves its watcher after limit of them.
type countTicker struct {
	w     *Watcher[*countTicker]
	mu    sync.Mutex
	ticks int
	limit int
	done  chan struct{}
}

func (c *countTicker) Tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ticks++
	if c.ticks == c.limit {
		c.w.Remove(c)
		close(c.done)
	}
}

func (c *countTicker) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ticks
}

// Len returns how many items are watched.
func (w *Watcher[T]) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.items)
}

func (w *Watcher[T]) isRunning() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.running
}

// TestWatcher: every item is ticked until it removes itself, an item added
// twice is ticked once per round, the goroutine stops once no item is
// left, and a later Add starts it again.
func TestWatcher(t *testing.T) {
	w := &Watcher[*countTicker]{Period: time.Millisecond}
	newItem := func(limit int) *countTicker {
		return &countTicker{w: w, limit: limit, done: make(chan struct{})}
	}
	for round := range 2 {
		a, b := newItem(3), newItem(6)
		w.Add(a)
		w.Add(a)
		w.Add(b)
		for _, it := range []*countTicker{a, b} {
			select {
			case <-it.done:
			case <-time.After(5 * time.Second):
				t.Fatalf("round %d: an item had %d of its %d ticks after 5s", round, it.count(), it.limit)
			}
		}
		for deadline := time.Now().Add(5 * time.Second); w.isRunning(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the watcher still runs with %d items", round, w.Len())
			}
		}
		time.Sleep(5 * time.Millisecond)
		if a.count() != 3 || b.count() != 6 {
			t.Errorf("round %d: ticks %d and %d after removal, want 3 and 6", round, a.count(), b.count())
		}
	}
}
