package fcgi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cgiref/cgiref/gateway"
	"github.com/cgiref/cgiref/internal/server"
	"github.com/cgiref/cgiref/internal/stats"
)

// bufReaderPool holds the connections' bufio.Readers.
var bufReaderPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}

// conn is one connection from the web server. Its read loop (serve) reads
// records and drives the requests' lifecycles (request.go); each request's
// handler runs in its own goroutine and ends its request with closeRequest.
type conn struct {
	srv *Server
	rwc net.Conn
	log atomic.Pointer[slog.Logger] // the server's, with the peer's address; made by logger
	ctx context.Context

	br  *bufio.Reader
	rr  *recordReader
	ctl []byte // control records written by the read loop

	mu       sync.Mutex
	headerBy time.Time           // PARAMS (or the first request) must be in by then; zero: none
	deadline time.Time           // the read deadline set
	reqs     map[uint16]*request // by id: requests not closed, and refused ids
	live     int                 // requests not closed
	waiting  int                 // live requests whose input has not ended
	shutdown bool                // the server is shutting down: close when idle
	begun    bool                // a request has begun on the connection
	accepted time.Time
	closed   bool
	// lingering: the application has said all it will (no FCGI_KEEP_CONN)
	// and half-closed the connection; the read loop discards what still
	// arrives until the web server closes, so that unread bytes do not turn
	// the close into a reset that could lose the answer.
	lingering atomic.Bool
	// drained: the input of a request without FCGI_KEEP_CONN ended with
	// nothing more in the read buffer, and no record has arrived since:
	// closing the connection cannot reset it over unread bytes, so it
	// needs no lingering close. Set and cleared by the read loop.
	drained atomic.Bool

	wmu       sync.Mutex
	werr      error
	scratch   []byte    // records built under wmu
	wdeadline time.Time // the connection's write deadline; under wmu

	wg sync.WaitGroup // handlers running, and a background read

	// sparePairs is a slice for the next request's pairs, given back by
	// the last request that ran (see request.givePairs): a kept-alive
	// connection decodes PARAMS without an allocation for the pairs.
	sparePairs atomic.Pointer[pairsBuf]

	// Running a request on the read loop's goroutine (runInline).
	bytesIn   int64          // bytes of records read, not yet counted; read loop only
	inline    *request       // set by request.start: run it once its record is handled; read loop only
	inlineOK  bool           // read deadlines can stop a pending read of rwc
	bgGen     uint64         // under mu: runInline's count; a round's state is valid while it is current
	bgStop    bool           // under mu: the inline handler returned; the background read hands back
	bgTaken   bool           // under mu: the background read took the read loop over
	bgRead    bool           // under mu: the background read is reading
	bgBack    sync.WaitGroup // the background read has decided
	bgStarted bool           // under mu: a background read was started for the current round
	running   bool           // under mu: a request runs on the read loop's goroutine
	armed     bool           // under mu: the server's inline watcher ticks the connection
	seenGen   uint64         // under mu: the round Tick saw last
}

// inlineTick is the period at which the server checks its connections
// whose requests run on their read loop's goroutine for one that has run
// through a whole tick (conn.Tick): that one gets a background read, so
// that the web server's abort or close is acted on within one to two ticks.
// Most handlers are done long before. One watcher per server ticks them
// all, so that busy connections cost one wake-up per tick, not a timer per
// connection, nor anything per request.
const inlineTick = 5 * time.Millisecond

// errHandedOff ends a read loop whose connection another goroutine now
// reads (see runInline); that goroutine ends the connection's reads.
var errHandedOff = errors.New("fcgi: read loop handed off")

// aLongTimeAgo is a read deadline that stops a pending read at once.
var aLongTimeAgo = time.Unix(1, 0)

func newConn(s *Server, rwc net.Conn, ctx context.Context) *conn {
	s.init() // done by Serve; here for connections made without it (tests)
	c := &conn{
		srv:  s,
		rwc:  rwc,
		ctx:  ctx,
		reqs: make(map[uint16]*request),
	}
	c.br = bufReaderPool.Get().(*bufio.Reader)
	c.br.Reset(rwc)
	c.rr = newRecordReader(c.br, nil)
	c.accepted = time.Now()
	switch rwc.(type) {
	case *net.TCPConn, *net.UnixConn:
		c.inlineOK = true
	}
	if d := s.readHeaderTimeout(); d > 0 {
		c.headerBy = server.Deadline(c.accepted, d) // the first request must begin by then
	}
	return c
}

// logger returns the connection's logger: the server's, with the peer's
// address. It is made at the first record logged, since formatting the
// address and cloning the handler cost more than the rest of a connection's
// logging set-up, and most connections log nothing.
func (c *conn) logger() *slog.Logger {
	if l := c.log.Load(); l != nil {
		return l
	}
	var remote string
	if a := c.rwc.RemoteAddr(); a != nil {
		remote = a.String()
	}
	c.log.CompareAndSwap(nil, c.srv.logger().With("remote", remote))
	return c.log.Load()
}

// Serve runs the read loop until the connection ends, then ends its
// requests and waits for their handlers.
func (c *conn) Serve() {
	if err := c.readLoop(); err != errHandedOff {
		c.endReads(err)
	}
	c.wg.Wait()
	c.stopInlineWatch()
	c.rr.release()
	c.br.Reset(nil)
	bufReaderPool.Put(c.br)
	c.br, c.rr = nil, nil
}

// endReads ends the connection once its read loop returned err: it logs
// why, closes the connection and ends its requests (running handlers are
// cancelled).
func (c *conn) endReads(err error) {
	c.mu.Lock()
	quiet := c.closed || c.lingering.Load()
	c.mu.Unlock()
	switch {
	case quiet, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case isTimeout(err):
		c.srv.counters.Refused(stats.Timeout)
		c.abuse(slog.LevelInfo, "fcgi: connection timed out", "err", err)
	case gateway.IsClientGone(err):
		c.abuse(slog.LevelInfo, "fcgi: the web server dropped the connection", "err", err)
	default:
		c.abuse(slog.LevelError, "fcgi: closing connection", "err", err)
	}
	c.Close()
	c.abortAll()
}

// abuse logs an event a peer can repeat at will, at most once per kind
// and interval with a count of the rest (internal/ratelog); msg is the kind.
func (c *conn) abuse(level slog.Level, msg string, args ...any) {
	c.srv.rl.Log(context.Background(), level, msg, msg, append(args, "remote", c.rwc.RemoteAddr().String())...)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// readLoop reads and handles records until the connection ends or another
// goroutine takes the read loop over (errHandedOff).
func (c *conn) readLoop() error {
	err := c.readRecords()
	if err != errHandedOff {
		c.flushBytesIn() // else the new read loop counts them
	}
	return err
}

func (c *conn) readRecords() error {
	for {
		// A record already in the buffer reads no socket: its deadline
		// does not matter (the web server sends a request's records
		// together).
		if !c.rr.whole() {
			c.flushBytesIn() // counted once per socket read, not per record
			if err := c.setReadDeadline(); err != nil {
				return err
			}
		}
		rec, err := c.rr.next()
		if err != nil {
			return err
		}
		c.bytesIn += int64(headerLen + len(rec.content))
		if c.drained.Load() {
			c.drained.Store(false) // bytes came after the input's end
		}
		if c.lingering.Load() {
			continue
		}
		err = c.handle(rec)
		if req := c.inline; req != nil {
			c.inline = nil
			if err != nil {
				req.inline = false
				go req.run()
			} else if c.runInline(req) {
				return errHandedOff
			} else if c.isClosed() {
				return net.ErrClosed // the request closed the connection
			}
		}
		if err != nil {
			return err
		}
	}
}

// flushBytesIn adds the bytes of the records read since the last call to
// the server's counters.
func (c *conn) flushBytesIn() {
	if c.bytesIn > 0 {
		c.srv.counters.BytesIn(c.bytesIn)
		c.bytesIn = 0
	}
}

// unread is how many bytes the read loop holds that no record has taken.
func (c *conn) unread() int { return c.br.Buffered() - c.rr.discard }

func (c *conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// canInline reports whether req, about to start, may run on the read
// loop's goroutine: a responder whose input is complete, alone on its
// connection, with nothing more received, on a connection whose pending
// read a deadline can stop.
func (c *conn) canInline(req *request) bool {
	if !c.inlineOK || req.role != roleResponder || c.unread() != 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live == 1 && req.state == stateInputDone
}

// runInline runs req's handler on the read loop's goroutine, which spares
// a goroutine, its stack growth and a hand-off per request, and, since the
// web server sends nothing until it has the answer, a read that would find
// nothing. A handler that runs through a whole inlineTick gets a background
// read (backgroundRead) that watches the connection, as net/http's does, so
// that ABORT_REQUEST, a multiplexed request or the web server's close are
// acted on: as soon as it gets anything, it takes the read loop over, and
// runInline returns true once the handler is done; this goroutine then
// only waits for the others. Otherwise, once the handler has returned and
// before the request's end goes out (after which the web server may send
// the next request), the background read is stopped (when it has begun to
// read, by a read deadline in the past), and the read loop goes on here.
func (c *conn) runInline(req *request) (handedOff bool) {
	c.rr.release() // the background read must find only new bytes
	c.mu.Lock()
	c.bgGen++
	req.inlineGen = c.bgGen
	c.bgStop, c.bgTaken, c.bgRead, c.bgStarted = false, false, false, false
	c.running = true
	if !c.armed {
		c.armed = true
		c.srv.inlineWatch.Add(c)
	}
	c.mu.Unlock()
	req.run() // calls stopBackgroundRead before it ends the request
	return req.handedOff
}

// Tick is called by the server's inline watcher every inlineTick while
// requests run on the read loop's goroutine: it starts the background read
// of one that has run since the last tick, and disarms once a tick has
// passed without any.
func (c *conn) Tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		c.disarmLocked()
		return
	case c.running && c.seenGen == c.bgGen && !c.bgStarted:
		c.bgStarted = true
		c.bgBack.Add(1)
		c.wg.Add(1)
		go c.backgroundRead()
	case !c.running && c.seenGen == c.bgGen:
		c.disarmLocked() // idle for a tick
		return
	}
	c.seenGen = c.bgGen
}

// disarmLocked takes the connection off the inline watcher; c.mu is held,
// so that runInline cannot arm it again in between.
func (c *conn) disarmLocked() {
	if c.armed {
		c.armed = false
		c.srv.inlineWatch.Remove(c)
	}
}

// stopInlineWatch takes the connection off the inline watcher for good,
// once the connection is done.
func (c *conn) stopInlineWatch() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.disarmLocked()
}

// stopBackgroundRead ends the inline request of round gen: its background
// read, if one started, is stopped, unless it took the read loop over
// (true).
func (c *conn) stopBackgroundRead(gen uint64) (handedOff bool) {
	c.mu.Lock()
	if c.bgTaken || c.bgGen != gen {
		c.mu.Unlock()
		return true
	}
	c.running = false
	if !c.bgStarted {
		c.mu.Unlock()
		return false // the usual case: the handler was quick
	}
	c.bgStop = true
	if c.bgRead {
		c.deadline = aLongTimeAgo // the next setReadDeadlineLocked sets a real one
		c.rwc.SetReadDeadline(aLongTimeAgo)
	}
	c.mu.Unlock()
	c.bgBack.Wait()
	if c.br.Buffered() > 0 {
		c.drained.Store(false) // bytes came after the input's end
	}
	return false
}

// backgroundRead waits for the connection's next bytes while a request
// runs on the read loop's goroutine (runInline). Unless that handler has
// returned first, whatever it gets (records, the end of the stream, an
// error) makes it the read loop. The round it decides for is the current
// one: no other begins before it takes the read loop over.
func (c *conn) backgroundRead() {
	defer c.wg.Done()
	c.mu.Lock()
	if c.bgStop {
		// The handler was done as Tick started this: nothing
		// was read.
		c.mu.Unlock()
		c.bgBack.Done()
		return
	}
	c.bgRead = true
	err := c.setReadDeadlineLocked() // none while the request runs
	c.mu.Unlock()
	if err == nil {
		_, err = c.br.Peek(1)
	}
	c.mu.Lock()
	stop := c.bgStop
	c.bgTaken = !stop
	if c.bgTaken {
		c.running = false // this goroutine is the read loop now; the handler's goroutine ends
	}
	c.mu.Unlock()
	c.bgBack.Done()
	if stop {
		return // the bytes or the error, if any, are the read loop's again
	}
	if err == nil {
		err = c.readLoop()
	}
	if err != errHandedOff {
		c.endReads(err)
	}
}

// setReadDeadline sets the deadline of the next record.
func (c *conn) setReadDeadline() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.setReadDeadlineLocked()
}

// setReadDeadlineLocked sets the deadline for the state under c.mu, the
// earliest of: the PARAMS deadline of a request still receiving them (or,
// before the first request, the connection's), IdleTimeout from now when
// no request is in flight, and ReadTimeout from now while a request waits
// for input. The read loop calls it before each record that is not wholly
// buffered, and a request's end when it leaves the connection idle.
// Deadlines are coarse (server.Deadline), so that the connection's timer is
// seldom reset.
func (c *conn) setReadDeadlineLocked() error {
	if c.lingering.Load() {
		return nil // lingerCloseLocked set the last deadline
	}
	t := c.headerBy
	earliest := func(d time.Duration) {
		if d <= 0 {
			return
		}
		if u := server.Deadline(time.Now(), d); t.IsZero() || u.Before(t) {
			t = u
		}
	}
	switch {
	case c.live == 0:
		earliest(c.srv.idleTimeout())
	case c.waiting > 0:
		earliest(c.srv.readTimeout())
	}
	if t.Equal(c.deadline) {
		return nil
	}
	c.deadline = t
	return c.rwc.SetReadDeadline(t)
}

// resetHeaderBy sets headerBy to the earliest PARAMS deadline of the
// requests still receiving them. c.mu is held.
func (c *conn) resetHeaderBy() {
	c.headerBy = time.Time{}
	for _, req := range c.reqs {
		if req != refused && req.state == stateParams && (c.headerBy.IsZero() || req.headerBy.Before(c.headerBy)) {
			c.headerBy = req.headerBy
		}
	}
}

// handle acts on one record. An error closes the connection.
func (c *conn) handle(rec record) error {
	if rec.id == 0 {
		return c.handleManagement(rec)
	}
	if rec.typ == typeBeginRequest {
		return c.begin(rec)
	}
	// The request and its state, in one look: only the read loop moves a
	// request short of stateClosed (see stateOf).
	c.mu.Lock()
	req := c.reqs[rec.id]
	var state reqState
	if req != nil {
		state = req.state
	}
	c.mu.Unlock()
	switch {
	case req == nil:
		c.logger().Debug("fcgi: record for no active request", "type", rec.typ, "request", rec.id)
		return nil
	case req == refused:
		return nil // the request was refused: its records are ignored
	}
	switch rec.typ {
	case typeParams:
		return c.params(req, state, rec.content)
	case typeStdin:
		c.stdin(req, state, rec.content)
	case typeData:
		c.data(req, state, rec.content)
	case typeAbortRequest:
		c.abort(req, state)
	default:
		c.logger().Debug("fcgi: ignoring record", "type", rec.typ, "request", rec.id)
	}
	return nil
}

func (c *conn) handleManagement(rec record) error {
	switch rec.typ {
	case typeGetValues:
		return c.getValues(rec.content)
	case typeBeginRequest:
		return fmt.Errorf("%w: BEGIN_REQUEST with request id 0", errMalformed)
	}
	c.ctl = appendUnknownType(c.ctl[:0], rec.typ)
	return c.write(c.ctl)
}

// getValues answers FCGI_GET_VALUES with the known variables asked for.
func (c *conn) getValues(content []byte) error {
	var pairs []byte
	for len(content) > 0 {
		name, _, rest, err := nextPair(content)
		if err != nil {
			return fmt.Errorf("GET_VALUES: %w", err)
		}
		content = rest
		if v, ok := c.srv.value(string(name)); ok {
			pairs = appendPair(pairs, string(name), v)
		}
	}
	c.ctl = appendRecord(c.ctl[:0], typeGetValuesResult, 0, pairs)
	return c.write(c.ctl)
}

// Shutdown closes the connection now when it is idle, and otherwise once
// its last request ends.
func (c *conn) Shutdown() {
	c.mu.Lock()
	c.shutdown = true
	idle := c.live == 0 && (c.begun || time.Since(c.accepted) > server.NewConnGrace)
	c.mu.Unlock()
	if idle {
		c.Close()
	}
}

// Close closes the connection at once; the read loop then ends the
// requests.
func (c *conn) Close() error {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	c.mu.Unlock()
	if already {
		return nil
	}
	return c.rwc.Close()
}

// afterRequest decides the connection's fate once a request has ended:
// close it when the request did not ask to keep it, or when the server
// shuts down and nothing else is in flight; else watch it for idleness.
//
// onReadLoop says the request ran on the read loop's goroutine, which sets
// its read deadline itself before it reads again; otherwise the read loop
// may be waiting in a read with no deadline and is given the idle one.
func (c *conn) afterRequest(keepConn, onReadLoop bool) {
	c.mu.Lock()
	if !keepConn {
		if c.live == 0 && c.drained.Load() && !c.closed && !c.lingering.Load() {
			// Nothing unread: a plain close sends the answer's end and
			// cannot turn into a reset, and spares the half-close, the
			// wait for the web server's close and the read that sees it.
			c.closed = true
			c.rwc.Close()
		} else {
			c.lingerCloseLocked()
		}
		c.mu.Unlock()
		return
	}
	closeNow := c.shutdown && c.live == 0
	if c.live == 0 && !closeNow && !onReadLoop {
		c.setReadDeadlineLocked()
	}
	c.mu.Unlock()
	if closeNow {
		c.Close()
	}
}

// lingerTimeout bounds how long a half-closed connection waits for the web
// server to close its side.
const lingerTimeout = 5 * time.Second

// lingerCloseLocked ends a connection whose request did not ask to keep
// it: the write side is shut at once and the read loop drains the rest until
// the web server closes, or lingerTimeout. c.mu is held.
func (c *conn) lingerCloseLocked() {
	if c.closed || c.lingering.Load() {
		return
	}
	cw, ok := c.rwc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		c.closed = true
		c.rwc.Close()
		return
	}
	c.lingering.Store(true)
	c.rwc.SetReadDeadline(time.Now().Add(lingerTimeout))
}

// write writes whole records; writes from the connection's requests are
// serialised. The first error sticks and closes the connection.
func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(b, time.Time{})
}

// writeLocked writes b under c.wmu. The write may take WriteTimeout, and
// not past deadline when that is set (a request's own write deadline).
func (c *conn) writeLocked(b []byte, deadline time.Time) error {
	if c.werr != nil {
		return c.werr
	}
	if d := c.srv.writeTimeout(); d > 0 {
		if t := server.Deadline(time.Now(), d); deadline.IsZero() || t.Before(deadline) {
			deadline = t
		}
	}
	if !deadline.Equal(c.wdeadline) {
		c.rwc.SetWriteDeadline(deadline)
		c.wdeadline = deadline
	}
	c.srv.counters.BytesOut(int64(len(b)))
	if _, err := c.rwc.Write(b); err != nil {
		c.werr = fmt.Errorf("%w: %w: %w", gateway.ErrClientGone, ErrConnClosed, err)
		// The locks are taken in the order c.wmu, then c.mu: nothing
		// writes while it holds c.mu.
		c.Close()
		return c.werr
	}
	return nil
}

// writeStream writes p as records of a stream.
func (c *conn) writeStream(typ recType, id uint16, p []byte, deadline time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.scratch = appendRecord(c.scratch[:0], typ, id, p)
	err := c.writeLocked(c.scratch, deadline)
	if cap(c.scratch) > outBufSize {
		c.scratch = nil
	}
	return err
}
