package fcgi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cgiref/cgiref/environ"
	"github.com/cgiref/cgiref/gateway"
	"github.com/cgiref/cgiref/internal/logline"
	"github.com/cgiref/cgiref/internal/server"
	"github.com/cgiref/cgiref/internal/spool"
	"github.com/cgiref/cgiref/internal/stats"
)

// The lifecycle of a request on its connection. The read loop moves a
// request forward as records arrive; the handler's goroutine ends it. Every
// end goes through closeRequest, the one place that writes END_REQUEST.
//
//	BEGIN_REQUEST
//	     |
//	stateParams ---- PARAMS end, AUTHORIZER ------------------------+
//	     |                                                          |
//	PARAMS end                                                      |
//	     v                                                          |
//	stateAwaitInput -- first STDIN record, empty (no body) -----+   |
//	     |                                                      |   |
//	first STDIN record with bytes: the handler starts           |   |
//	     v                                                      v   v
//	stateRunning ---- end of the last input stream -------> stateInputDone
//	     |                   (or ABORT_REQUEST)                  |
//	     +------------------ handler returns -------------------+
//	                               |
//	                               v
//	                         closeRequest --> stateClosed
//
// ABORT_REQUEST or a lost connection before the handler starts (in
// stateParams or stateAwaitInput) closes the request at once. After it
// starts, they cancel its context and fail its body reads and writes; the
// request closes when the handler returns. A PARAMS stream past
// MaxHeaderBytes, or one that does not decode, is answered with an error
// status and closed without running the handler.
type reqState uint8

const (
	stateParams     reqState = iota // PARAMS arriving
	stateAwaitInput                 // PARAMS complete; the first STDIN record tells whether a body follows
	stateRunning                    // the handler runs; input still arrives
	stateInputDone                  // the handler runs; all input is in (or cancelled)
	stateClosed                     // END_REQUEST is out (or the connection is gone); the id is free
)

// ending is how closeRequest ends a request.
type ending uint8

const (
	endComplete   ending = iota // the whole answer: its tail, the end of the streams, END_REQUEST
	endAborted                  // the web server aborted it, or the connection is gone: END_REQUEST only
	endCut                      // the answer was cut short: the connection is closed without END_REQUEST
	endOverloaded               // refused past MaxRequests: END_REQUEST with FCGI_OVERLOADED
)

// refused marks the id of a request refused at BEGIN_REQUEST in conn.reqs:
// its later records are ignored until the id is begun again.
var refused = &request{state: stateClosed}

// paramsPool holds PARAMS buffers. Only buffers of up to maxPooledParams
// go back, so that one large request does not pin its buffer for good.
var paramsPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

const maxPooledParams = 64 << 10

// request is one FastCGI request on a connection.
type request struct {
	c        *conn
	id       uint16
	role     uint16
	keepConn bool
	state    reqState // guarded by c.mu
	admitted bool     // it holds a slot under MaxRequests; handler goroutine only
	// A request run on the read loop's goroutine (conn.runInline), and
	// whether its background read took the read loop over.
	inline    bool
	handedOff bool

	cause error // why the request was cancelled; guarded by c.mu
	// cancelled is set once cause is: a write checks it without the lock.
	cancelled atomic.Bool
	headerBy  time.Time // its PARAMS must be in by then
	received  int64     // STDIN bytes received; read loop only

	paramsp *[]byte // PARAMS collected so far; nil once decoded
	params  string  // PARAMS once decoded: the pairs' names and values are its substrings
	// pairBuf holds the pairs decoded from params, in a slice the
	// connection hands from request to request; nil before PARAMS end and
	// once the request is done.
	pairBuf *pairsBuf
	env     environ.Environ // made from the pairs when the server must change it (FixIISPathInfo)
	stdin   *input          // nil: no body (or an authorizer)
	data    *input          // nil but for a filter

	ctx    context.Context
	stop   context.CancelCauseFunc
	out    stdout
	errOut stderr

	// The gateway that runs the request, kept here so that it costs no
	// allocation of its own. (Its STDIN is allocated apart: most requests
	// have no body, and an input in every request would cost them more
	// bytes than the allocation it saves the others.)
	gw gateway.Handler

	inlineGen uint64 // the round of an inline request's background read
}

// input is a request's STDIN or DATA stream: filled by the read loop, which
// never waits for the handler, and read by the handler.
type input struct{ spool.Pipe }

// AwaitInput waits until the web server has sent the whole stream: the
// read loop never waits for the handler, so the gateway need not spool the
// body itself, only hold the answer back until the body is in (nginx stops
// sending a body once the answer begins).
func (in *input) AwaitInput() error { return in.WaitClosed() }

func newInput(s *Server) *input {
	in := new(input)
	in.Init(s.spoolConfig())
	return in
}

// begin acts on BEGIN_REQUEST.
func (c *conn) begin(rec record) error {
	br, err := parseBeginRequest(rec.content)
	if err != nil {
		return err
	}
	c.mu.Lock()
	old := c.reqs[rec.id]
	// During Shutdown a connection takes no new request, except its first:
	// the web server may have sent it before it saw the listener close.
	live, shutdown := c.live, c.shutdown && c.begun
	c.mu.Unlock()
	if old != nil && old != refused {
		return fmt.Errorf("%w: BEGIN_REQUEST for request %d, which is in flight", errMalformed, rec.id)
	}
	switch {
	case br.role != roleResponder && br.role != roleAuthorizer && br.role != roleFilter:
		c.abuse(slog.LevelWarn, "fcgi: unknown role", "role", br.role, "request", rec.id)
		c.srv.counters.Refused(stats.UnknownRole)
		return c.refuse(rec.id, statusUnknownRole)
	case c.srv.DisableMultiplexing && live > 0:
		c.srv.counters.Refused(stats.ConnRequests)
		return c.refuse(rec.id, statusCantMultiplex)
	case shutdown:
		c.srv.counters.Refused(stats.Overloaded)
		return c.refuse(rec.id, statusOverloaded)
	case live >= c.srv.maxConnRequests():
		c.srv.counters.Refused(stats.ConnRequests)
		return c.refuse(rec.id, statusOverloaded)
	}
	req := &request{c: c, id: rec.id, role: br.role, keepConn: br.flags&flagKeepConn != 0}
	req.paramsp = paramsPool.Get().(*[]byte)
	c.mu.Lock()
	if d := c.srv.readHeaderTimeout(); d > 0 {
		req.headerBy = server.Deadline(time.Now(), d)
	}
	c.reqs[rec.id] = req
	c.begun = true
	c.live++
	c.waiting++
	c.resetHeaderBy()
	active := c.live == 1
	c.mu.Unlock()
	if active {
		c.srv.srv.SetState(c.rwc, http.StateActive)
	}
	return nil
}

// refuse answers a BEGIN_REQUEST with END_REQUEST and a protocol status;
// the request's later records are ignored.
func (c *conn) refuse(id uint16, status uint8) error {
	c.mu.Lock()
	c.reqs[id] = refused
	c.mu.Unlock()
	return c.writeEnd(nil, id, 0, status)
}

// stateOf returns req's state. Only the read loop moves a request short of
// stateClosed, so the read loop may act on what it returns; the handler's
// goroutine may close the request meanwhile, which makes its input drop
// what is written to it.
func (c *conn) stateOf(req *request) reqState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return req.state
}

// params collects PARAMS; their empty record ends them. state is req's
// state as the record arrived.
func (c *conn) params(req *request, state reqState, content []byte) error {
	if state != stateParams {
		c.logger().Debug("fcgi: PARAMS after the end of the stream", "request", req.id)
		return nil
	}
	if len(content) > 0 {
		if len(*req.paramsp)+len(content) > c.srv.maxHeaderBytes() {
			c.abuse(slog.LevelWarn, "fcgi: request refused: PARAMS over the limit", "request", req.id, "limit", c.srv.maxHeaderBytes())
			return c.refuseRequest(req, http.StatusRequestHeaderFieldsTooLarge, stats.HeaderTooLarge)
		}
		if !c.srv.holdHeader(len(content)) {
			c.abuse(slog.LevelWarn, "fcgi: request refused: the server holds too many PARAMS", "request", req.id, "limit", c.srv.maxHeaderMemory())
			return c.refuseRequest(req, http.StatusServiceUnavailable, stats.HeaderMemory)
		}
		*req.paramsp = append(*req.paramsp, content...)
		return nil
	}
	req.params = string(*req.paramsp)
	req.releaseParams()
	req.pairBuf = c.takePairs()
	pairs, err := paramsPairs(req.params, req.pairBuf.pairs[:0])
	if err != nil {
		c.abuse(slog.LevelWarn, "fcgi: request refused: bad PARAMS", "request", req.id, "err", err)
		return c.refuseRequest(req, http.StatusBadRequest, stats.BadRequest)
	}
	req.pairBuf.pairs = pairs
	if max := c.srv.maxBodyBytes(); max > 0 && req.role != roleAuthorizer {
		if cl := req.get("CONTENT_LENGTH"); cl == "" {
			// nginx sends it empty on a GET: nothing to check (and no
			// parse error to allocate)
		} else if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n > max {
			c.abuse(slog.LevelWarn, "fcgi: request refused: body over the limit", "request", req.id, "length", n, "limit", max)
			return c.refuseRequest(req, http.StatusRequestEntityTooLarge, stats.BodyTooLarge)
		}
	}
	if c.srv.FixIISPathInfo {
		req.env = req.pairs().Environ()
		req.givePairs()
		environ.StripScriptPrefix(req.env)
	}
	if c.srv.PingPath != "" && gateway.RequestPath(req.vars()) == c.srv.PingPath {
		c.ping(req)
		return nil
	}
	if req.role == roleAuthorizer {
		c.setState(req, stateInputDone) // an authorizer gets no body: never wait for STDIN
		req.start()
		return nil
	}
	c.setState(req, stateAwaitInput)
	return nil
}

// stdin acts on a STDIN record.
func (c *conn) stdin(req *request, state reqState, content []byte) {
	switch state {
	case stateAwaitInput:
		if len(content) > 0 {
			req.stdin = newInput(c.srv)
			c.feed(req, content)
		} else if cl := req.get("CONTENT_LENGTH"); cl != "" && cl != "0" {
			// A body was announced and none came: let the app's reads
			// fail as a short body does.
			req.stdin = newInput(c.srv)
			req.stdin.CloseWithError(nil)
		}
		if req.role == roleFilter {
			req.data = newInput(c.srv)
		}
		next := stateRunning
		if len(content) == 0 && req.role == roleResponder {
			next = stateInputDone
			c.inputEnded(req)
		}
		c.setState(req, next)
		req.start()
	case stateRunning:
		if req.stdin == nil {
			return // the filter's empty STDIN came first
		}
		if len(content) > 0 {
			c.feed(req, content)
			return
		}
		req.stdin.CloseWithError(nil)
		if req.role == roleResponder {
			c.setState(req, stateInputDone)
			c.inputEnded(req)
		}
	}
}

// inputEnded notes that a responder's last input stream ended: when its
// request did not ask to keep the connection and nothing more is buffered,
// the connection may close without lingering once the request ends.
func (c *conn) inputEnded(req *request) {
	if !req.keepConn && c.unread() == 0 {
		c.drained.Store(true)
	}
}

// feed passes STDIN bytes to the request's body, failing it past
// MaxBodyBytes.
func (c *conn) feed(req *request, content []byte) {
	req.received += int64(len(content))
	if max := c.srv.maxBodyBytes(); max > 0 && req.received > max {
		if req.received-int64(len(content)) <= max {
			c.abuse(slog.LevelWarn, "fcgi: request body over the limit", "request", req.id, "limit", max)
			req.stdin.CloseWithError(&http.MaxBytesError{Limit: max})
		}
		return
	}
	if _, err := req.stdin.Write(content); err != nil {
		c.logger().Error("fcgi: spooling the request body", "request", req.id, "err", err)
	}
}

// data acts on a DATA record of a filter.
func (c *conn) data(req *request, state reqState, content []byte) {
	if req.role != roleFilter || state != stateRunning {
		return
	}
	if len(content) > 0 {
		if _, err := req.data.Write(content); err != nil {
			c.logger().Error("fcgi: spooling the filter data", "request", req.id, "err", err)
		}
		return
	}
	req.data.CloseWithError(nil)
	c.setState(req, stateInputDone)
}

// abort acts on ABORT_REQUEST: a request whose handler runs is cancelled
// and ends when its handler returns; one that has not started ends now.
func (c *conn) abort(req *request, state reqState) {
	switch state {
	case stateParams, stateAwaitInput:
		c.closeRequest(req, endAborted, 1)
	case stateRunning, stateInputDone:
		c.cancel(req, ErrRequestAborted)
	}
}

// abortAll ends every request once the connection is gone: handlers that
// run are cancelled, the others closed.
func (c *conn) abortAll() {
	c.mu.Lock()
	reqs := make([]*request, 0, len(c.reqs))
	for _, req := range c.reqs {
		if req != refused {
			reqs = append(reqs, req)
		}
	}
	c.mu.Unlock()
	for _, req := range reqs {
		switch c.stateOf(req) {
		case stateParams, stateAwaitInput:
			c.closeRequest(req, endAborted, 1)
		default:
			c.cancel(req, ErrConnClosed)
		}
	}
}

// setState moves req to a state short of stateClosed, keeping the count of
// requests that wait for input.
func (c *conn) setState(req *request, s reqState) {
	c.mu.Lock()
	if req.state < stateInputDone && s >= stateInputDone {
		c.waiting--
	}
	wasParams := req.state == stateParams
	req.state = s
	if wasParams {
		c.resetHeaderBy()
	}
	c.mu.Unlock()
}

// cancel stops a running request: its context is cancelled with cause, its
// input fails with cause, and its writes fail from now on.
func (c *conn) cancel(req *request, cause error) {
	c.mu.Lock()
	if req.cause != nil || req.state == stateClosed {
		c.mu.Unlock()
		return
	}
	req.cause = cause
	req.cancelled.Store(true)
	if req.state < stateInputDone {
		c.waiting--
		req.state = stateInputDone
	}
	c.mu.Unlock()
	if req.stdin != nil {
		req.stdin.CloseWithError(cause)
	}
	if req.data != nil {
		req.data.CloseWithError(cause)
	}
	req.stop(cause)
}

// refuseRequest answers a request whose PARAMS cannot be used with status
// and closes it; its neighbours on the connection go on.
func (c *conn) refuseRequest(req *request, status int, why stats.Reason) error {
	c.srv.counters.Refused(why)
	req.releaseParams()
	c.mu.Lock()
	c.reqs[req.id] = refused // ignore the rest of its records
	c.mu.Unlock()
	req.out.init(req)
	req.out.writeAnswer(status, "")
	c.closeRequest(req, endComplete, 0)
	return nil
}

// ping answers the server's own health check: 200 "pong", without the
// handler and past every request limit.
func (c *conn) ping(req *request) {
	c.srv.counters.Ping()
	c.mu.Lock()
	c.reqs[req.id] = refused // ignore the rest of its records
	c.mu.Unlock()
	req.out.init(req)
	req.out.writeAnswer(http.StatusOK, "pong")
	c.closeRequest(req, endComplete, 0)
}

// closeRequest ends req, once: it writes what the ending calls for, frees
// the request's id and resources, and decides the connection's fate.
func (c *conn) closeRequest(req *request, e ending, appStatus uint32) {
	c.mu.Lock()
	if req.state == stateClosed {
		c.mu.Unlock()
		return
	}
	if req.state < stateInputDone {
		c.waiting--
	}
	wasParams := req.state == stateParams
	req.state = stateClosed
	if c.reqs[req.id] == req {
		delete(c.reqs, req.id)
	}
	c.live--
	if wasParams {
		c.resetHeaderBy()
	}
	idle := c.live == 0 && !c.closed
	c.mu.Unlock()
	if idle {
		c.srv.srv.SetState(c.rwc, http.StateIdle)
	}
	// The slot under MaxRequests is free before the web server learns that
	// the request ended: it may send the next one at once.
	if req.admitted {
		req.admitted = false
		c.srv.release()
	}
	var err error
	switch e {
	case endComplete:
		err = c.writeEnd(&req.out, req.id, appStatus, statusRequestComplete)
	case endAborted:
		err = c.writeEnd(nil, req.id, appStatus, statusRequestComplete)
	case endOverloaded:
		err = c.writeEnd(nil, req.id, appStatus, statusOverloaded)
	case endCut:
		// FastCGI cannot say "this answer is incomplete", and nginx takes
		// a connection closed without END_REQUEST for the end of an
		// unbuffered answer. A record header of version 0 is a protocol
		// error to every web server: it aborts the client's answer (curl
		// sees a transfer error, a keep-alive client connection is closed).
		// Other requests of the connection end with it.
		c.logger().Warn("fcgi: answer cut short: breaking the connection without END_REQUEST", "request", req.id)
		c.write(zeros[:headerLen])
		c.Close()
	}
	if err != nil {
		c.logger().Debug("fcgi: ending request", "request", req.id, "err", err)
	}
	if req.stop != nil {
		req.stop(context.Canceled)
	}
	if req.stdin != nil {
		if n := req.stdin.Spilled(); n > 0 {
			c.srv.counters.Spooled(n)
		}
	}
	req.release()
	c.afterRequest(req.keepConn, req.inline && !req.handedOff)
}

// writeEnd writes the end of a request in one write: the rest of its STDOUT
// (when out is not nil) and the end of that stream, the end of STDERR when
// it was used, and END_REQUEST.
func (c *conn) writeEnd(out *stdout, id uint16, appStatus uint32, protocolStatus uint8) error {
	if out == nil {
		var b [endRequestLen]byte
		return c.write(appendEndRequest(b[:0], id, appStatus, protocolStatus))
	}
	b := out.tail()
	b, _ = appendHeader(b, typeStdout, id, 0)
	if out.req.errOut.used.Load() {
		b, _ = appendHeader(b, typeStderr, id, 0)
	}
	b = appendEndRequest(b, id, appStatus, protocolStatus)
	err := c.write(b)
	out.buf = b[:headerLen]
	return err
}

// start runs the handler: in its own goroutine, or, when it may
// (canInline), on the read loop's once the current record is handled.
func (req *request) start() {
	c := req.c
	ctx, stop := context.WithCancelCause(c.ctx)
	if req.role == roleFilter {
		ctx = context.WithValue(ctx, dataKey{}, io.Reader(req.data))
	}
	req.ctx, req.stop = ctx, stop
	req.out.init(req)
	req.errOut.req = req
	c.wg.Add(1)
	if c.canInline(req) {
		req.inline = true
		c.inline = req // the read loop runs it once the record is handled
		return
	}
	go req.run()
}

// endInline stops the background read of a request run on the read loop's
// goroutine, before the request's end lets the web server send more.
func (req *request) endInline() {
	if req.inline {
		req.handedOff = req.c.stopBackgroundRead(req.inlineGen)
	}
}

// run runs the handler through the gateway and closes the request.
func (req *request) run() {
	c := req.c
	defer c.wg.Done()
	var start time.Time
	if c.srv.AccessLog != nil {
		start = time.Now()
	}
	env := req.vars()
	if req.admitted = c.srv.admit(req.ctx); !req.admitted {
		c.srv.counters.Refused(stats.Overloaded)
		c.abuse(slog.LevelWarn, "fcgi: request refused: MaxRequests in flight", "request", req.id, "limit", c.srv.maxRequests())
		req.endInline()
		c.closeRequest(req, endOverloaded, 0)
		return
	}
	c.srv.counters.RequestStarted()
	if d := c.srv.SlowRequest; d > 0 {
		defer stats.WatchSlow(req.ctx, c.logger(), d, req.get("REQUEST_METHOD"), gateway.RequestTarget(env), &c.srv.counters)()
	}
	var in io.Reader
	if req.stdin != nil {
		in = req.stdin
	}
	errw, flushErrs := req.errorStream(env)
	// As gateway.NewBaseCGI, without an allocation of its own.
	req.gw = gateway.Handler{Stdin: in, Stdout: &req.out, Stderr: errw, Environ: req.env, Pairs: req.pairs(), Multithread: true}
	if req.env == nil {
		req.gw.Relist = req // the pairs' slice goes back to the connection below
	}
	h := &req.gw
	h.Context, h.ScopedContext = req.ctx, true
	h.Timeout = c.srv.RequestTimeout
	err := h.Run(c.srv.handler())
	req.stop(context.Canceled) // the request's context ends with the handler, as under net/http
	flushErrs()
	c.mu.Lock()
	cause := req.cause
	c.mu.Unlock()
	res := h.Result()
	outcome := outcomeOf(cause, err, res)
	c.srv.counters.RequestEnded(outcome)
	req.endInline()
	switch {
	case cause != nil:
		c.closeRequest(req, endAborted, 1)
	case err != nil:
		c.closeRequest(req, endCut, 1)
	default:
		c.closeRequest(req, endComplete, 0)
	}
	if c.srv.AccessLog != nil {
		c.srv.AccessLog(gateway.NewAccessRecord(env, res, start, "fcgi", outcome.String()))
	}
	req.givePairs()
}

// outcomeOf says how a request ended, from its cancellation cause, Run's
// error and result.
func outcomeOf(cause, err error, res gateway.Result) stats.Outcome {
	switch {
	case cause == ErrRequestAborted:
		return stats.Aborted
	case cause != nil:
		return stats.ClientGone
	case res.TimedOut:
		return stats.TimedOut
	case res.Panicked:
		return stats.Panicked
	case err != nil && gateway.IsClientGone(err):
		return stats.ClientGone
	case err != nil:
		return stats.Cut
	}
	return stats.Completed
}

// errorStream returns the request's error stream as Server.Errors says,
// and a function that flushes it once the request is done.
func (req *request) errorStream(env environ.Source) (io.Writer, func()) {
	c := req.c
	policy := c.srv.Errors
	if policy == gateway.ErrorsAuto {
		policy = gateway.ErrorsToWebServer
		if gateway.IsIIS(env) {
			policy = gateway.ErrorsToLog
		}
	}
	switch policy {
	case gateway.ErrorsToLog:
		w := logline.New(c.logger(), "fcgi: application error output", "request", req.id)
		return w, func() { w.Close() }
	case gateway.ErrorsDiscard:
		return io.Discard, func() {}
	}
	return &req.errOut, func() {}
}

// writeErr is the error of a write by the handler once the request was
// cancelled, nil before.
func (req *request) writeErr() error {
	if !req.cancelled.Load() {
		return nil // the usual case, without the lock
	}
	c := req.c
	c.mu.Lock()
	cause := req.cause
	c.mu.Unlock()
	if cause == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", gateway.ErrClientGone, cause)
}

// writeFailed turns a failed connection write into the handler's error.
func (req *request) writeFailed(err error) error {
	if e := req.writeErr(); e != nil {
		return e
	}
	return err
}

func (req *request) releaseParams() {
	if req.paramsp == nil {
		return
	}
	req.c.srv.headerHeld.Add(-int64(len(*req.paramsp)))
	if cap(*req.paramsp) <= maxPooledParams {
		*req.paramsp = (*req.paramsp)[:0]
		paramsPool.Put(req.paramsp)
	}
	req.paramsp = nil
}

// release frees the request's buffers and spooled input.
func (req *request) release() {
	req.releaseParams()
	req.out.release()
	if req.stdin != nil {
		req.stdin.Release()
	}
	if req.data != nil {
		req.data.Release()
	}
}

// pairsBuf is a slice for a request's pairs, which a connection hands
// from one request to the next.
type pairsBuf struct{ pairs environ.Pairs }

// maxSparePairs bounds the pairs a connection keeps a slice for, so that
// one request with many variables does not pin its slice for good.
const maxSparePairs = 256

// takePairs returns the connection's spare slice for pairs, or a new one.
func (c *conn) takePairs() *pairsBuf {
	if b := c.sparePairs.Swap(nil); b != nil {
		return b
	}
	return new(pairsBuf)
}

// givePairs gives the request's slice for pairs back to its connection,
// once nothing reads them any more: the gateway lists them again from
// params for an app that asks for its Environ later (ListPairs).
func (req *request) givePairs() {
	b := req.pairBuf
	if b == nil {
		return
	}
	req.pairBuf = nil
	if cap(b.pairs) > maxSparePairs {
		return
	}
	clear(b.pairs) // do not keep the request's strings alive
	b.pairs = b.pairs[:0]
	req.c.sparePairs.Store(b)
}

// ListPairs lists the request's pairs again, in a slice of their own, for
// an app that asks for its Environ (gateway.Handler.Relist).
func (req *request) ListPairs() environ.Pairs {
	pairs, _ := paramsPairs(req.params, nil) // decoded without error before
	return pairs
}

// paramsPairs decodes a request's PARAMS into dst (reallocated when too
// small), as the request sees them: a CONTENT_LENGTH of -1 (Caddy's, for a
// chunked request: read STDIN to its end) is dropped.
func paramsPairs(params string, dst environ.Pairs) (environ.Pairs, error) {
	pairs, err := decodePairs(params, dst)
	if err != nil {
		return nil, err
	}
	if v, _ := pairs.Lookup("CONTENT_LENGTH"); v == "-1" {
		pairs = without(pairs, "CONTENT_LENGTH")
	}
	return pairs, nil
}

// vars is the request's environ, read a variable at a time.
func (req *request) vars() environ.Source {
	if req.env != nil {
		return req.env
	}
	if req.pairBuf == nil {
		return environ.Pairs(nil)
	}
	return &req.pairBuf.pairs
}

// pairs returns the request's pairs, nil before PARAMS end and once the
// request is done.
func (req *request) pairs() environ.Pairs {
	if req.pairBuf == nil {
		return nil
	}
	return req.pairBuf.pairs
}

// get returns one variable of the request's environ.
func (req *request) get(name string) string {
	v, _ := req.vars().Lookup(name)
	return v
}

// without returns pairs without those named name, in place.
func without(pairs environ.Pairs, name string) environ.Pairs {
	return slices.DeleteFunc(pairs, func(p environ.Pair) bool { return p.Name == name })
}

// deadline is the request's own write deadline (SetWriteDeadline).
func (req *request) deadline() time.Time { return req.out.deadline }
