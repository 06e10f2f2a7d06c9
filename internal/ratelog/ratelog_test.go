package ratelog

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock whose time moves only by Advance, which fires the
// timers that fall due, in order, each at its own time.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	late   bool // timers never fire: the time a real timer may lag
}

type fakeTimer struct {
	c    *fakeClock
	when time.Time
	f    func()
}

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, when: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	n := len(t.c.timers)
	t.c.timers = slices.DeleteFunc(t.c.timers, func(x *fakeTimer) bool { return x == t })
	return len(t.c.timers) < n
}

// pending is the number of timers set.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// AdvanceTo moves the time to to, firing due timers on the way.
func (c *fakeClock) AdvanceTo(to time.Time) {
	for {
		c.mu.Lock()
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.when.After(to) && (next == nil || t.when.Before(next.when)) {
				next = t
			}
		}
		if next == nil || c.late {
			c.now = to
			c.mu.Unlock()
			return
		}
		c.timers = slices.DeleteFunc(c.timers, func(x *fakeTimer) bool { return x == next })
		c.now = next.when
		c.mu.Unlock()
		next.f()
	}
}

// recorder is a slog.Handler that keeps each record as a line:
// "+offset LEVEL msg key=value...", the offset from epoch.
type recorder struct {
	mu    sync.Mutex
	level slog.Level
	lines []string
}

func (h *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }
func (h *recorder) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h *recorder) WithGroup(string) slog.Handler                { return h }

func (h *recorder) Handle(_ context.Context, r slog.Record) error {
	line := fmt.Sprintf("+%v %v %s", r.Time.Sub(epoch), r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		line += fmt.Sprintf(" %s=%v", a.Key, a.Value)
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines = append(h.lines, line)
	return nil
}

func (h *recorder) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.lines)
}

// step is one thing a test does at a time (an offset from epoch): log a
// record of kind, or flush, or close; n repeats the record n times, every
// 'every'.
type step struct {
	at    time.Duration
	kind  string
	level slog.Level
	n     int
	every time.Duration
	flush bool
	close bool
}

// rec is a record of kind at warning level at the time at.
func rec(at time.Duration, kind string) step { return step{at: at, kind: kind, level: slog.LevelWarn} }

// recs is n records of kind, one every 'every', from at.
func recs(at time.Duration, kind string, n int, every time.Duration) step {
	return step{at: at, kind: kind, level: slog.LevelWarn, n: n, every: every}
}

func TestLogger(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name     string
		opts     *Options
		minLevel slog.Level
		late     bool // timers do not fire: the next record or Flush must do their work
		steps    []step
		end      time.Duration // the clock's last time
		want     []string
	}{{
		name:  "one record",
		steps: []step{rec(0, "k")},
		end:   time.Minute,
		want:  []string{"+0s WARN msg k detail=0"},
	}, {
		name:  "a burst: the first in full, then one summary",
		steps: []step{recs(0, "fcgi: connection timed out", 2000, time.Millisecond)},
		end:   time.Minute,
		want: []string{
			"+0s WARN msg fcgi: connection timed out detail=0",
			"+10s WARN fcgi: connection timed out: 1999 more in the last 10s kind=fcgi: connection timed out suppressed=1999 interval=10s",
		},
	}, {
		name: "a quiet interval ends the run: the next record is in full",
		steps: []step{
			recs(0, "k", 3, s),
			rec(25*s, "k"), // interval [10s, 20s) saw nothing
		},
		end: time.Minute,
		want: []string{
			"+0s WARN msg k detail=0",
			"+10s WARN k: 2 more in the last 10s kind=k suppressed=2 interval=10s",
			"+25s WARN msg k detail=0",
		},
	}, {
		name:  "a steady flood: one summary per interval, the last at Close",
		steps: []step{recs(0, "k", 35, s), {at: 34500 * time.Millisecond, close: true}},
		end:   time.Minute,
		want: []string{
			"+0s WARN msg k detail=0",
			"+10s WARN k: 9 more in the last 10s kind=k suppressed=9 interval=10s",
			"+20s WARN k: 10 more in the last 10s kind=k suppressed=10 interval=10s",
			"+30s WARN k: 10 more in the last 10s kind=k suppressed=10 interval=10s",
			"+34.5s WARN k: 5 more in the last 5s kind=k suppressed=5 interval=5s",
		},
	}, {
		name: "kinds are counted apart",
		steps: []step{
			recs(0, "a", 3, s),
			recs(5*s, "b", 2, s),
		},
		end: time.Minute,
		want: []string{
			"+0s WARN msg a detail=0",
			"+5s WARN msg b detail=0",
			"+10s WARN a: 2 more in the last 10s kind=a suppressed=2 interval=10s",
			"+15s WARN b: 1 more in the last 10s kind=b suppressed=1 interval=10s",
		},
	}, {
		name: "a summary has the highest level it counted",
		steps: []step{
			rec(0, "k"),
			{at: s, kind: "k", level: slog.LevelInfo},
			{at: 2 * s, kind: "k", level: slog.LevelError},
			{at: 3 * s, kind: "k", level: slog.LevelInfo},
		},
		end: time.Minute,
		want: []string{
			"+0s WARN msg k detail=0",
			"+10s ERROR k: 3 more in the last 10s kind=k suppressed=3 interval=10s",
		},
	}, {
		name:     "a level the handler drops is not counted",
		minLevel: slog.LevelWarn,
		steps: []step{
			rec(0, "k"),
			{at: s, kind: "k", level: slog.LevelInfo, n: 100, every: time.Millisecond},
		},
		end:  time.Minute,
		want: []string{"+0s WARN msg k detail=0"},
	}, {
		name: "kinds past MaxKinds share one slot",
		opts: &Options{MaxKinds: 2},
		steps: []step{
			rec(0, "a"), rec(0, "b"),
			rec(s, "c"), rec(2*s, "d"), rec(3*s, "c"), rec(4*s, "a"),
			rec(15*s, "e"), // a and b gave their slots back at 10s
		},
		end: time.Minute,
		want: []string{
			"+0s WARN msg a detail=0",
			"+0s WARN msg b detail=0",
			"+1s WARN msg c detail=0",
			"+10s WARN a: 1 more in the last 10s kind=a suppressed=1 interval=10s",
			"+11s WARN ratelog: 2 more records of other kinds in the last 10s kind=ratelog: other kinds suppressed=2 interval=10s",
			"+15s WARN msg e detail=0",
		},
	}, {
		name: "Flush reports at once and begins a new interval",
		steps: []step{
			recs(0, "k", 3, s),
			{at: 2500 * time.Millisecond, flush: true},
			rec(3*s, "k"),
		},
		end: time.Minute,
		want: []string{
			"+0s WARN msg k detail=0",
			"+2.5s WARN k: 2 more in the last 3s kind=k suppressed=2 interval=3s",
			"+12.5s WARN k: 1 more in the last 10s kind=k suppressed=1 interval=10s",
		},
	}, {
		name:  "a custom interval",
		opts:  &Options{Interval: 250 * time.Millisecond},
		steps: []step{recs(0, "k", 10, 50*time.Millisecond)},
		end:   time.Minute,
		want: []string{
			"+0s WARN msg k detail=0",
			"+250ms WARN k: 4 more in the last 250ms kind=k suppressed=4 interval=250ms",
			"+500ms WARN k: 5 more in the last 250ms kind=k suppressed=5 interval=250ms",
		},
	}, {
		name: "a late timer: the next record of the kind reports first",
		late: true,
		steps: []step{
			recs(0, "k", 3, s),
			rec(12*s, "k"),
			rec(30*s, "k"),
		},
		end: time.Minute,
		want: []string{
			"+0s WARN msg k detail=0",
			"+12s WARN k: 2 more in the last 12s kind=k suppressed=2 interval=12s",
			"+30s WARN k: 1 more in the last 18s kind=k suppressed=1 interval=18s",
		},
	}, {
		name: "after Close every record passes through",
		steps: []step{
			rec(0, "k"),
			{at: s, close: true},
			recs(2*s, "k", 3, time.Millisecond),
		},
		end: time.Minute,
		want: []string{
			"+0s WARN msg k detail=0",
			"+2s WARN msg k detail=0",
			"+2.001s WARN msg k detail=1",
			"+2.002s WARN msg k detail=2",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &fakeClock{now: epoch, late: tt.late}
			h := &recorder{level: tt.minLevel}
			l := newLogger(slog.New(h), tt.opts, c)
			for _, st := range tt.steps {
				n := max(st.n, 1)
				for i := range n {
					c.AdvanceTo(epoch.Add(st.at + time.Duration(i)*st.every))
					switch {
					case st.flush:
						l.Flush()
					case st.close:
						l.Close()
					default:
						l.Log(context.Background(), st.level, st.kind, "msg "+st.kind, "detail", i)
					}
				}
			}
			c.AdvanceTo(epoch.Add(tt.end))
			if got := h.got(); !slices.Equal(got, tt.want) {
				t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if !tt.late && c.pending() != 0 {
				t.Errorf("%d timers still set after every interval ended", c.pending())
			}
		})
	}
}

// TestConcurrent logs from many goroutines with the real clock: every
// record is logged or counted, once.
func TestConcurrent(t *testing.T) {
	h := &recorder{level: slog.LevelDebug}
	l := New(slog.New(h), &Options{Interval: 5 * time.Millisecond, MaxKinds: 3})
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				l.Warn(fmt.Sprintf("kind %d", (w+i)%5), "msg")
				if i%100 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	l.Close()
	total := 0
	for _, line := range h.got() {
		if _, n, ok := strings.Cut(line, " suppressed="); ok {
			var k int
			if _, err := fmt.Sscanf(n, "%d", &k); err != nil {
				t.Fatalf("summary %q: %v", line, err)
			}
			total += k
		} else {
			total++
		}
	}
	if total != workers*each {
		t.Errorf("records logged or counted: %d, want %d", total, workers*each)
	}
	l.mu.Lock()
	timer := l.timer // a tick that was already running may clear it too
	l.mu.Unlock()
	if timer != nil {
		t.Error("the timer is still set after Close")
	}
}

// TestSource: a full record carries its caller's position.
func TestSource(t *testing.T) {
	var b strings.Builder
	l := New(slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{AddSource: true})), nil)
	defer l.Close()
	l.Error("k", "msg")
	if !strings.Contains(b.String(), "ratelog_test.go:") {
		t.Errorf("record %q has no source in the test file", b.String())
	}
}
