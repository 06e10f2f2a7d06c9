package server

import "time"

// Deadline returns a deadline d after now, rounded up to a multiple of a
// sixteenth of d (at least a millisecond). Successive deadlines computed
// within that step are equal, so a connection that sets one before every
// read or write resets its timer (net.Conn.SetDeadline) once per step
// instead of every time; the timeout takes up to 1/16 longer than d. A d of
// zero or less gives the zero time: no deadline.
func Deadline(now time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	step := int64(max(d/16, time.Millisecond))
	ns := now.UnixNano() + int64(d) // time.Time.Truncate divides in 128 bits: too slow here
	if r := ns % step; r != 0 {
		ns += step - r
	}
	return time.Unix(0, ns)
}
