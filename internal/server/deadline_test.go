package server

import (
	"testing"
	"time"
)

func TestDeadline(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC) // a multiple of every step below
	tests := []struct {
		name string
		now  time.Time
		d    time.Duration
		want time.Time
	}{
		{"no timeout", base, 0, time.Time{}},
		{"negative timeout", base, -time.Second, time.Time{}},
		{"on a step", base, 16 * time.Second, base.Add(16 * time.Second)},
		{"just past a step: rounded up", base.Add(time.Nanosecond), 16 * time.Second, base.Add(17 * time.Second)},
		{"just before a step", base.Add(time.Second - time.Nanosecond), 16 * time.Second, base.Add(17 * time.Second)},
		{"small timeout: a millisecond step", base.Add(time.Microsecond), 5 * time.Millisecond, base.Add(6 * time.Millisecond)},
	}
	for _, tt := range tests {
		if got := Deadline(tt.now, tt.d); !got.Equal(tt.want) {
			t.Errorf("%s: Deadline(%v, %v) = %v, want %v", tt.name, tt.now, tt.d, got, tt.want)
		}
	}
	// Never early, at most a step late, and equal within a step.
	d := 2 * time.Minute
	first := Deadline(base.Add(time.Second), d)
	for i := range 1000 {
		now := base.Add(time.Second + time.Duration(i)*time.Millisecond)
		got := Deadline(now, d)
		if got.Before(now.Add(d)) || got.After(now.Add(d+d/16)) {
			t.Fatalf("Deadline(%v, %v) = %v: outside [now+d, now+d+d/16]", now, d, got)
		}
		if !got.Equal(first) {
			t.Fatalf("deadlines within one step differ: %v and %v", got, first)
		}
	}
}
