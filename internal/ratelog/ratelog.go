// Package ratelog keeps a flood of similar log records down to a rate an
// operator can live with, while the first record of each kind keeps its
// detail.
//
// A Logger wraps a *slog.Logger. Each call names a kind: a short, fixed
// phrase that says what happened, such as "fcgi: connection timed out" (never
// text from the peer: kinds are counted per distinct string). The first
// record of a kind is logged at once, in full, with every attribute given.
// Later records of the same kind within Options.Interval (DefaultInterval,
// 10 s) of it are only counted; when the interval ends, one summary record
// at the same level says how many there were:
//
//	level=WARN msg="fcgi: connection timed out: 1999 more in the last 10s" kind="fcgi: connection timed out" suppressed=1999 interval=10s
//
// and a new interval begins, in which records are counted again. An
// interval that ends with nothing counted ends the kind's run: its next
// record is logged in full again. So a kind yields at most one record per
// interval after its first, whatever the rate of events.
//
// Memory is bounded: at most Options.MaxKinds (DefaultMaxKinds, 100) kinds
// are tracked at once. Records of further kinds, while every slot is taken,
// share one extra slot whose summaries read "ratelog: N more records of
// other kinds"; the first of them is logged in full.
//
// Summaries go out from a single timer, started when the first kind opens
// an interval and stopped when none is open; there is no goroutine per kind
// and none at all while nothing is counted. Flush logs the pending
// summaries at once; Close flushes and stops the timer, after which records
// pass through without aggregation (so nothing logged during a shutdown is
// lost). A Logger is safe for concurrent use.
package ratelog

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Defaults for Options.
const (
	// DefaultInterval is the aggregation interval: long enough that a
	// flood of thousands of events a second makes a handful of lines a
	// minute, short enough that an operator watching the log sees a
	// summary soon after an attack begins.
	DefaultInterval = 10 * time.Second
	// DefaultMaxKinds bounds the kinds tracked at once. A program has a
	// few dozen fixed kinds at most.
	DefaultMaxKinds = 100
)

// Options configure a Logger. The zero value gives the defaults.
type Options struct {
	Interval time.Duration // 0 or less: DefaultInterval
	MaxKinds int           // 0 or less: DefaultMaxKinds
}

// otherKind is the kind of the shared slot, which no caller can name: kinds
// are fixed phrases, and this one is not.
const otherKind = "ratelog: other kinds"

// Logger logs records by kind, aggregating repeats. Create it with New.
type Logger struct {
	log      *slog.Logger
	interval time.Duration
	maxKinds int
	clock    clock

	mu     sync.Mutex
	kinds  map[string]*run
	other  *run  // the shared slot of the kinds past maxKinds, or nil
	timer  timer // pending sweep, or nil
	closed bool
}

// run is a kind's current interval.
type run struct {
	level      slog.Level
	start      time.Time // when the interval began
	suppressed int       // records counted, not logged, since start
}

// New returns a Logger writing to log (nil: slog.Default()). opts may be nil.
func New(log *slog.Logger, opts *Options) *Logger {
	return newLogger(log, opts, realClock{})
}

func newLogger(log *slog.Logger, opts *Options, c clock) *Logger {
	if log == nil {
		log = slog.Default()
	}
	l := &Logger{log: log, interval: DefaultInterval, maxKinds: DefaultMaxKinds, clock: c, kinds: make(map[string]*run)}
	if opts != nil && opts.Interval > 0 {
		l.interval = opts.Interval
	}
	if opts != nil && opts.MaxKinds > 0 {
		l.maxKinds = opts.MaxKinds
	}
	return l
}

// Debug logs at LevelDebug; see Log.
func (l *Logger) Debug(kind, msg string, args ...any) {
	l.log1(context.Background(), slog.LevelDebug, kind, msg, args)
}

// Info logs at LevelInfo; see Log.
func (l *Logger) Info(kind, msg string, args ...any) {
	l.log1(context.Background(), slog.LevelInfo, kind, msg, args)
}

// Warn logs at LevelWarn; see Log.
func (l *Logger) Warn(kind, msg string, args ...any) {
	l.log1(context.Background(), slog.LevelWarn, kind, msg, args)
}

// Error logs at LevelError; see Log.
func (l *Logger) Error(kind, msg string, args ...any) {
	l.log1(context.Background(), slog.LevelError, kind, msg, args)
}

// Log logs msg with args (slog key-value pairs or Attrs) at level, when it
// is the first record of kind in its interval; otherwise it counts it
// towards the kind's next summary. A record the underlying handler would
// drop at level is neither logged nor counted.
func (l *Logger) Log(ctx context.Context, level slog.Level, kind, msg string, args ...any) {
	l.log1(ctx, level, kind, msg, args)
}

// log1 is the one entry point below the exported methods, so that the
// caller's program counter is a fixed number of frames up.
func (l *Logger) log1(ctx context.Context, level slog.Level, kind, msg string, args []any) {
	if ctx == nil {
		ctx = context.Background()
	}
	if !l.log.Handler().Enabled(ctx, level) {
		return
	}
	now := l.clock.Now()
	l.mu.Lock()
	full, summaries := l.count(level, kind, now)
	l.mu.Unlock()
	for _, s := range summaries {
		l.emit(ctx, s)
	}
	if full {
		var pcs [1]uintptr
		runtime.Callers(3, pcs[:]) // Callers, log1, the exported method
		r := slog.NewRecord(now, level, msg, pcs[0])
		r.Add(args...)
		l.log.Handler().Handle(ctx, r)
	}
}

// count files a record of kind at now and reports whether to log it in
// full, and the summaries of intervals that ended unseen by the timer.
// l.mu is held.
func (l *Logger) count(level slog.Level, kind string, now time.Time) (full bool, summaries []slog.Record) {
	if l.closed {
		return true, nil
	}
	r, ok := l.kinds[kind]
	if ok && !l.over(r, now) {
		r.add(level)
		return false, nil
	}
	// Intervals over give their slots back, and their summaries go out
	// before this record.
	summaries = l.sweep(now, false, nil)
	if len(l.kinds) >= l.maxKinds {
		if _, ok := l.kinds[kind]; !ok {
			return l.countOther(level, now, summaries)
		}
	}
	if r, ok := l.kinds[kind]; ok { // a new interval after a summary
		r.add(level)
		return false, summaries
	}
	l.kinds[kind] = &run{level: level, start: now}
	l.schedule(now)
	return true, summaries
}

// countOther is count for the shared slot.
func (l *Logger) countOther(level slog.Level, now time.Time, summaries []slog.Record) (full bool, _ []slog.Record) {
	if l.other != nil {
		l.other.add(level)
		return false, summaries
	}
	l.other = &run{level: level, start: now}
	l.schedule(now)
	return true, summaries
}

// add counts a record at level.
func (r *run) add(level slog.Level) {
	r.suppressed++
	r.level = max(r.level, level)
}

// over reports whether r's interval is over at now.
func (l *Logger) over(r *run, now time.Time) bool {
	return !now.Before(r.start.Add(l.interval))
}

// end ends kind's interval r at now: with records counted, it returns
// their summary and begins a new interval; with none, it forgets kind.
// l.mu is held.
func (l *Logger) end(kind string, r *run, now time.Time) *slog.Record {
	if r.suppressed == 0 {
		delete(l.kinds, kind)
		return nil
	}
	s := l.summary(kind, fmt.Sprintf("%s: %d more in the last %s", kind, r.suppressed, l.span(now.Sub(r.start))), r, now)
	*r = run{level: slog.LevelDebug - 100, start: now}
	return &s
}

// endOther is end for the shared slot.
func (l *Logger) endOther(now time.Time) *slog.Record {
	r := l.other
	if r.suppressed == 0 {
		l.other = nil
		return nil
	}
	s := l.summary(otherKind, fmt.Sprintf("ratelog: %d more records of other kinds in the last %s", r.suppressed, l.span(now.Sub(r.start))), r, now)
	*r = run{level: slog.LevelDebug - 100, start: now}
	return &s
}

// summary is the record that reports r's count.
func (l *Logger) summary(kind, msg string, r *run, now time.Time) slog.Record {
	s := slog.NewRecord(now, r.level, msg, 0)
	s.AddAttrs(slog.String("kind", kind), slog.Int("suppressed", r.suppressed), slog.Duration("interval", l.span(now.Sub(r.start))))
	return s
}

// span rounds an interval's length for display: to the second, or to the
// millisecond when Options.Interval is under a second.
func (l *Logger) span(d time.Duration) time.Duration {
	if l.interval >= time.Second {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}

// sweep ends every interval that is over at now, and when flush also every
// one with records counted, appending the summaries to out, and returns
// out. l.mu is held.
func (l *Logger) sweep(now time.Time, flush bool, out []slog.Record) []slog.Record {
	over := func(r *run) bool { return l.over(r, now) || flush && r.suppressed > 0 }
	for _, kind := range slices.Sorted(maps.Keys(l.kinds)) { // summaries in a stable order
		if r := l.kinds[kind]; over(r) {
			if s := l.end(kind, r, now); s != nil {
				out = append(out, *s)
			}
		}
	}
	if l.other != nil && over(l.other) {
		if s := l.endOther(now); s != nil {
			out = append(out, *s)
		}
	}
	return out
}

// schedule makes sure the timer runs while an interval is open. l.mu is
// held.
func (l *Logger) schedule(now time.Time) {
	if l.timer != nil || l.closed {
		return
	}
	next, ok := l.nextEnd()
	if !ok {
		return
	}
	l.timer = l.clock.AfterFunc(max(next.Sub(now), 0), l.tick)
}

// nextEnd is the earliest end of an open interval. l.mu is held.
func (l *Logger) nextEnd() (time.Time, bool) {
	var next time.Time
	ok := false
	consider := func(r *run) {
		if end := r.start.Add(l.interval); !ok || end.Before(next) {
			next, ok = end, true
		}
	}
	for _, r := range l.kinds {
		consider(r)
	}
	if l.other != nil {
		consider(l.other)
	}
	return next, ok
}

// tick is the timer's function: it logs the summaries that are due and
// sets the timer for the next end, if any interval is still open.
func (l *Logger) tick() {
	now := l.clock.Now()
	l.mu.Lock()
	l.timer = nil
	var out []slog.Record
	if !l.closed {
		out = l.sweep(now, false, nil)
		l.schedule(now)
	}
	l.mu.Unlock()
	for _, r := range out {
		l.emit(context.Background(), r)
	}
}

// Flush logs the summary of every kind with records counted, now, and
// begins their next interval.
func (l *Logger) Flush() {
	now := l.clock.Now()
	l.mu.Lock()
	out := l.sweep(now, true, nil)
	// Runs with a fresh interval stay open: their timer stays set.
	l.mu.Unlock()
	for _, r := range out {
		l.emit(context.Background(), r)
	}
}

// Close flushes, stops the timer and makes every later record pass through
// in full. It always returns nil.
func (l *Logger) Close() error {
	now := l.clock.Now()
	l.mu.Lock()
	out := l.sweep(now, true, nil)
	l.closed = true
	clear(l.kinds)
	l.other = nil
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.mu.Unlock()
	for _, r := range out {
		l.emit(context.Background(), r)
	}
	return nil
}

// emit hands a summary to the handler, if it takes its level.
func (l *Logger) emit(ctx context.Context, r slog.Record) {
	if l.log.Handler().Enabled(ctx, r.Level) {
		l.log.Handler().Handle(ctx, r)
	}
}

// clock is time, replaceable in tests.
type clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) timer
}

type timer interface{ Stop() bool }

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) timer { return time.AfterFunc(d, f) }
