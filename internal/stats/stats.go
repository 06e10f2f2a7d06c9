// Package stats counts what a cgiref server does: connections, requests by
// outcome, refusals by reason, bytes and spooled bodies. Counting is a few
// atomic additions per request, cheap enough to leave on; Snapshot reads
// them all, and Handler serves them as JSON and in the Prometheus text
// format.
package stats

import (
	"sync/atomic"
)

// Outcome is how a request ended.
type Outcome int

// The outcomes of a request.
const (
	Completed  Outcome = iota // a whole answer went out (the app's, or the error page after an app error)
	ClientGone                // the web server or its client went away
	Aborted                   // the web server aborted the request (FCGI_ABORT_REQUEST)
	Panicked                  // the app panicked (the error page, or a cut answer)
	Cut                       // the answer was cut short (short body, http.ErrAbortHandler)
	TimedOut                  // RequestTimeout ended the handler
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"completed", "client_gone", "aborted", "panicked", "cut", "timed_out"}

func (o Outcome) String() string { return outcomeNames[o] }

// Reason is why a request or connection was refused.
type Reason int

// The reasons of a refusal.
const (
	NotAllowed     Reason = iota // the connection's address is not allowed
	Overloaded                   // MaxRequests in flight
	ConnRequests                 // MaxConnRequests on the connection
	HeaderTooLarge               // PARAMS or SCGI header past MaxHeaderBytes
	HeaderMemory                 // MaxHeaderMemory held by the server
	BodyTooLarge                 // a body past MaxBodyBytes
	BadRequest                   // the request could not be built or parsed
	UnknownRole                  // FastCGI role not known
	Timeout                      // a read header, read, idle or write timeout closed the connection
	numReasons
)

var reasonNames = [numReasons]string{"not_allowed", "overloaded", "conn_requests", "header_too_large", "header_memory", "body_too_large", "bad_request", "unknown_role", "timeout"}

func (r Reason) String() string { return reasonNames[r] }

// Counters are a server's counters. The zero value is ready; all methods
// are safe for concurrent use.
type Counters struct {
	connsOpen, connsAccepted  atomic.Int64
	requests                  atomic.Int64 // in flight: requests less those with an outcome
	outcomes                  [numOutcomes]atomic.Int64
	refusals                  [numReasons]atomic.Int64
	bytesIn, bytesOut         atomic.Int64
	bodiesSpooled, spoolBytes atomic.Int64
	slowRequests, pings       atomic.Int64
}

// ConnOpened and ConnClosed count a connection.
func (c *Counters) ConnOpened() { c.connsAccepted.Add(1); c.connsOpen.Add(1) }
func (c *Counters) ConnClosed() { c.connsOpen.Add(-1) }

// RequestStarted counts a request whose handler starts.
func (c *Counters) RequestStarted() { c.requests.Add(1) }

// RequestEnded counts the end of a started request.
func (c *Counters) RequestEnded(o Outcome) { c.outcomes[o].Add(1) }

// Refused counts a refusal.
func (c *Counters) Refused(r Reason) { c.refusals[r].Add(1) }

// BytesIn and BytesOut count request and answer bytes.
func (c *Counters) BytesIn(n int64)  { c.bytesIn.Add(n) }
func (c *Counters) BytesOut(n int64) { c.bytesOut.Add(n) }

// Spooled counts a request body that went to a temporary file, and its
// bytes on disk.
func (c *Counters) Spooled(onDisk int64) { c.bodiesSpooled.Add(1); c.spoolBytes.Add(onDisk) }

// Slow counts a request logged as slow; Ping one answered by the server.
func (c *Counters) Slow() { c.slowRequests.Add(1) }
func (c *Counters) Ping() { c.pings.Add(1) }

// Snapshot is the counters at one moment. Totals count since the server
// started; ConnectionsOpen and RequestsInFlight are gauges.
type Snapshot struct {
	ConnectionsOpen     int64            `json:"connections_open"`
	ConnectionsAccepted int64            `json:"connections_accepted_total"`
	RequestsInFlight    int64            `json:"requests_in_flight"`
	Requests            int64            `json:"requests_total"`
	Outcomes            map[string]int64 `json:"requests_by_outcome"`
	Refusals            map[string]int64 `json:"refusals_by_reason"`
	BytesIn             int64            `json:"bytes_in_total"`
	BytesOut            int64            `json:"bytes_out_total"`
	BodiesSpooled       int64            `json:"bodies_spooled_total"`
	SpoolBytes          int64            `json:"spool_bytes_total"`
	SlowRequests        int64            `json:"slow_requests_total"`
	Pings               int64            `json:"pings_total"`
}

// Snapshot reads the counters. Requests in flight are the requests started
// less those ended (one counter fewer to update per request): the outcomes
// are read first, so that a request ending meanwhile counts as in flight,
// never as less than none.
func (c *Counters) Snapshot() Snapshot {
	var ended int64
	outcomes := make(map[string]int64, numOutcomes)
	for o := range numOutcomes {
		n := c.outcomes[o].Load()
		outcomes[o.String()] = n
		ended += n
	}
	requests := c.requests.Load()
	s := Snapshot{
		ConnectionsOpen:     c.connsOpen.Load(),
		ConnectionsAccepted: c.connsAccepted.Load(),
		RequestsInFlight:    requests - ended,
		Requests:            requests,
		Outcomes:            outcomes,
		Refusals:            make(map[string]int64, numReasons),
		BytesIn:             c.bytesIn.Load(),
		BytesOut:            c.bytesOut.Load(),
		BodiesSpooled:       c.bodiesSpooled.Load(),
		SpoolBytes:          c.spoolBytes.Load(),
		SlowRequests:        c.slowRequests.Load(),
		Pings:               c.pings.Load(),
	}
	for r := range numReasons {
		s.Refusals[r.String()] = c.refusals[r].Load()
	}
	return s
}
