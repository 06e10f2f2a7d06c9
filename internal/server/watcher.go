package server

import (
	"sync"
	"time"
)

// A Ticker is an item a Watcher calls every period.
type Ticker interface {
	// Tick is called from the Watcher's goroutine, never twice at once.
	// An item leaves the Watcher by calling Remove, from Tick or not.
	Tick()
}

// A Watcher calls Tick on each of its items every Period, all from one
// goroutine that runs only while it has items. It spares a server whose
// connections each need a periodic check (a request that runs too long, a
// peer that went away) a timer per connection: under load, per-connection
// timers fire, each in a new goroutine, as many times per period as there
// are busy connections, where one Watcher wakes once.
//
// Items are tracked by identity (use pointers). Add and Remove may be
// called with the item's own lock held, and Tick takes that lock: the
// Watcher never holds its own lock while it calls Tick.
type Watcher[T interface {
	comparable
	Ticker
}] struct {
	// Period is the time between two rounds of ticks.
	Period time.Duration

	mu      sync.Mutex
	items   map[T]struct{}
	running bool // the goroutine runs; it stops once a round finds no items
	round   []T  // the goroutine's copy of items, reused
}

// Add starts watching x; adding an item already watched does nothing.
func (w *Watcher[T]) Add(x T) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.items == nil {
		w.items = make(map[T]struct{})
	}
	w.items[x] = struct{}{}
	if !w.running {
		w.running = true
		go w.run()
	}
}

// Remove stops watching x. A round already under way may still tick it
// once.
func (w *Watcher[T]) Remove(x T) {
	w.mu.Lock()
	delete(w.items, x)
	w.mu.Unlock()
}

// run ticks the items every Period until a round finds none.
func (w *Watcher[T]) run() {
	t := time.NewTimer(w.Period)
	defer t.Stop()
	for {
		<-t.C
		if !w.collect() {
			return
		}
		for i, x := range w.round {
			x.Tick()
			var zero T
			w.round[i] = zero // hold no item past its round
		}
		t.Reset(w.Period)
	}
}

// collect copies the items into w.round; with none it marks the goroutine
// stopped and returns false.
func (w *Watcher[T]) collect() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.items) == 0 {
		w.running = false
		return false
	}
	w.round = w.round[:0]
	for x := range w.items {
		w.round = append(w.round, x)
	}
	return true
}
