package fcgi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cgiref/cgiref/environ"
	"github.com/cgiref/cgiref/gateway"
)

// Errors a handler's writes return once the web server aborted the request
// or the connection is gone. They satisfy errors.Is for both the package's
// sentinel and the error the gateway recognises as a client gone.
var (
	errWriteAborted = fmt.Errorf("%w: %w", ErrRequestAborted, syscall.ECONNABORTED)
	errWriteClosed  = fmt.Errorf("%w: %w", ErrConnClosed, net.ErrClosed)
)

// Pools of per-connection buffers.
var (
	recBufPool    = sync.Pool{New: func() any { b := make([]byte, maxContent+maxPadding); return &b }}
	bufReaderPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}
	paramsPool    = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}
	bodyPool      = sync.Pool{New: func() any { b := make([]byte, 0, bodyChunk); return &b }}
)

// bodyChunk is the size of a pooled body buffer.
const bodyChunk = 64 << 10

// Request states.
const (
	stateLive int32 = iota
	stateAborted
	stateConnClosed
)

// conn is one connection from the web server.
type conn struct {
	srv *Server
	rwc net.Conn
	log *slog.Logger
	ctx context.Context

	br   *bufio.Reader
	recp *[]byte
	rr   *recordReader
	ctl  []byte              // control records written by the read loop
	rej  map[uint16]struct{} // ids answered with a refusal; read loop only
	reqs map[uint16]*request // requests begun and not ended; guarded by mu

	mu       sync.Mutex
	busy     int  // requests begun and whose END_REQUEST is not written
	pending  int  // requests whose input has not ended
	shutdown bool // the server is shutting down: close when idle
	closed   bool
	// lingering: the application has said all it will (no FCGI_KEEP_CONN)
	// and half-closed the connection; the read loop discards what still
	// arrives until the web server closes, so that unread bytes do not turn
	// the close into a reset that could lose the answer.
	lingering atomic.Bool

	wmu     sync.Mutex
	werr    error
	scratch []byte // records built under wmu

	wg sync.WaitGroup // handlers running
}

func newConn(s *Server, rwc net.Conn, ctx context.Context) *conn {
	c := &conn{
		srv:  s,
		rwc:  rwc,
		log:  s.logger().With("remote", rwc.RemoteAddr().String()),
		ctx:  ctx,
		reqs: make(map[uint16]*request),
	}
	c.br = bufReaderPool.Get().(*bufio.Reader)
	c.br.Reset(rwc)
	c.recp = recBufPool.Get().(*[]byte)
	c.rr = newRecordReader(c.br, *c.recp)
	return c
}

// serve runs the read loop until the connection ends, then waits for the
// connection's handlers.
func (c *conn) serve() {
	err := c.readLoop()
	c.mu.Lock()
	quiet := c.closed || c.lingering.Load()
	c.mu.Unlock()
	switch {
	case quiet, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case isTimeout(err):
		c.log.Info("fcgi: connection timed out", "err", err)
	case gateway.IsClientGone(err):
		c.log.Info("fcgi: the web server dropped the connection", "err", err)
	default:
		c.log.Error("fcgi: closing connection", "err", err)
	}
	c.close()
	c.abortAll()
	c.wg.Wait()
	c.br.Reset(nil)
	bufReaderPool.Put(c.br)
	recBufPool.Put(c.recp)
	c.br, c.recp, c.rr = nil, nil, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *conn) readLoop() error {
	for {
		if err := c.setReadDeadline(); err != nil {
			return err
		}
		rec, err := c.rr.next()
		if err != nil {
			return err
		}
		if c.lingering.Load() {
			continue
		}
		if err := c.handle(rec); err != nil {
			return err
		}
	}
}

// setReadDeadline applies IdleTimeout when no request is in flight and
// ReadTimeout when a request still waits for input.
func (c *conn) setReadDeadline() error {
	if c.srv.IdleTimeout <= 0 && c.srv.ReadTimeout <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.setReadDeadlineLocked()
}

// setReadDeadlineLocked sets the deadline for the state under c.mu: the
// read loop calls it before each record, and a request's end when it leaves
// the connection idle.
func (c *conn) setReadDeadlineLocked() error {
	if c.lingering.Load() {
		return nil // lingerClose set the last deadline
	}
	var d time.Duration
	switch {
	case c.busy == 0:
		d = c.srv.IdleTimeout
	case c.pending > 0:
		d = c.srv.ReadTimeout
	}
	var t time.Time
	if d > 0 {
		t = time.Now().Add(d)
	}
	return c.rwc.SetReadDeadline(t)
}

// handle acts on one record. An error closes the connection.
func (c *conn) handle(rec record) error {
	if rec.id == 0 {
		return c.handleManagement(rec)
	}
	if rec.typ == typeBeginRequest {
		return c.begin(rec)
	}
	if _, ok := c.rej[rec.id]; ok {
		return nil // the request was refused: its records are ignored
	}
	c.mu.Lock()
	req := c.reqs[rec.id]
	c.mu.Unlock()
	if req == nil {
		c.log.Debug("fcgi: record for no active request", "type", rec.typ, "request", rec.id)
		return nil
	}
	switch rec.typ {
	case typeParams:
		return c.params(req, rec.content)
	case typeStdin:
		if req.role != roleAuthorizer {
			c.input(req, req.stdin, rec.content, req.role == roleResponder)
		}
	case typeData:
		if req.role == roleFilter {
			c.input(req, req.data, rec.content, true)
		}
	case typeAbortRequest:
		return c.abort(req)
	default:
		c.log.Debug("fcgi: ignoring record", "type", rec.typ, "request", rec.id)
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

func (c *conn) begin(rec record) error {
	br, err := parseBeginRequest(rec.content)
	if err != nil {
		return err
	}
	c.mu.Lock()
	_, active := c.reqs[rec.id]
	inFlight, shutdown := len(c.reqs), c.shutdown // requests whose END_REQUEST is not on its way
	c.mu.Unlock()
	if active {
		return fmt.Errorf("%w: BEGIN_REQUEST for request %d, which is in flight", errMalformed, rec.id)
	}
	delete(c.rej, rec.id)
	switch {
	case br.role != roleResponder && br.role != roleAuthorizer && br.role != roleFilter:
		c.log.Warn("fcgi: unknown role", "role", br.role, "request", rec.id)
		return c.refuse(rec.id, statusUnknownRole)
	case c.srv.DisableMultiplexing && inFlight > 0:
		return c.refuse(rec.id, statusCantMultiplex)
	case shutdown || !c.srv.acquire():
		return c.refuse(rec.id, statusOverloaded)
	}
	req := &request{c: c, id: rec.id, role: br.role, keepConn: br.flags&flagKeepConn != 0}
	req.paramsp = paramsPool.Get().(*[]byte)
	req.params = (*req.paramsp)[:0]
	if br.role != roleAuthorizer {
		req.stdinBody.init(c.srv.bodyMemory(), &bodyPool, c.srv.TempDir)
		req.stdin = &req.stdinBody
	}
	if br.role == roleFilter {
		req.data = newBody(c.srv.bodyMemory(), &bodyPool, c.srv.TempDir)
	}
	c.mu.Lock()
	c.reqs[rec.id] = req
	c.busy++
	c.pending++
	c.mu.Unlock()
	return nil
}

// refuse answers a BEGIN_REQUEST with END_REQUEST and the protocol status,
// and ignores the request's later records.
func (c *conn) refuse(id uint16, status uint8) error {
	if c.rej == nil {
		c.rej = make(map[uint16]struct{})
	}
	c.rej[id] = struct{}{}
	c.ctl = appendEndRequest(c.ctl[:0], id, 0, status)
	return c.write(c.ctl)
}

func (c *conn) params(req *request, content []byte) error {
	if req.started {
		c.log.Debug("fcgi: PARAMS after the end of the stream", "request", req.id)
		return nil
	}
	if len(content) > 0 {
		if len(req.params)+len(content) > c.srv.maxParams() {
			return fmt.Errorf("%w: request %d: params over the limit of %d bytes", errMalformed, req.id, c.srv.maxParams())
		}
		req.params = append(req.params, content...)
		return nil
	}
	env, err := decodeParams(req.params)
	if err != nil {
		return fmt.Errorf("request %d: params: %w", req.id, err)
	}
	if env["CONTENT_LENGTH"] == "-1" {
		delete(env, "CONTENT_LENGTH") // Caddy, for a chunked request: read STDIN to its end
	}
	if c.srv.FixIISPathInfo {
		environ.StripScriptPrefix(env)
	}
	*req.paramsp = req.params[:0]
	paramsPool.Put(req.paramsp)
	req.paramsp, req.params = nil, nil
	if req.role == roleAuthorizer {
		c.inputDone(req)
	}
	req.start(env)
	return nil
}

// input feeds a STDIN or DATA record to its stream; an empty record ends it.
func (c *conn) input(req *request, b *body, content []byte, last bool) {
	if len(content) > 0 {
		if err := b.write(content); err != nil {
			c.log.Error("fcgi: request body", "request", req.id, "err", err)
		}
		return
	}
	b.close(nil)
	if last {
		c.inputDone(req)
	}
}

func (c *conn) inputDone(req *request) {
	c.mu.Lock()
	if !req.inputEnded {
		req.inputEnded = true
		c.pending--
	}
	c.mu.Unlock()
}

// abort acts on ABORT_REQUEST: a request whose handler runs is cancelled
// and ends when its handler returns; one still receiving PARAMS ends now.
func (c *conn) abort(req *request) error {
	if req.started {
		req.cancel(stateAborted, ErrRequestAborted)
		c.inputDone(req) // nothing more comes for it
		return nil
	}
	c.remove(req)
	req.releaseInput()
	c.ctl = appendEndRequest(c.ctl[:0], req.id, 1, statusRequestComplete)
	err := c.write(c.ctl)
	c.ended(req)
	return err
}

// remove forgets the request's id, so that the web server may reuse it.
func (c *conn) remove(req *request) {
	c.mu.Lock()
	delete(c.reqs, req.id)
	if !req.inputEnded {
		req.inputEnded = true
		c.pending--
	}
	c.mu.Unlock()
	c.srv.release()
}

// ended is called once the request's END_REQUEST is written (or could not
// be): the connection closes when the request asked for it, or when the
// server shuts down and no other request is in flight.
func (c *conn) ended(req *request) {
	c.mu.Lock()
	c.busy--
	if !req.keepConn {
		c.lingerCloseLocked()
		c.mu.Unlock()
		return
	}
	closeNow := c.shutdown && c.busy == 0
	if c.busy == 0 && c.srv.IdleTimeout > 0 && !closeNow {
		c.setReadDeadlineLocked()
	}
	c.mu.Unlock()
	if closeNow {
		c.close()
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

// abortAll cancels every request when the connection is gone.
func (c *conn) abortAll() {
	c.mu.Lock()
	var waiting []*request
	for _, req := range c.reqs {
		if req.started {
			req.cancel(stateConnClosed, ErrConnClosed)
		} else {
			waiting = append(waiting, req)
		}
	}
	c.mu.Unlock()
	for _, req := range waiting {
		c.remove(req)
		req.releaseInput()
		c.ended(req)
	}
}

// startShutdown closes the connection now when it is idle, and otherwise
// once its last request ends.
func (c *conn) startShutdown() {
	c.mu.Lock()
	c.shutdown = true
	idle := c.busy == 0
	c.mu.Unlock()
	if idle {
		c.close()
	}
}

func (c *conn) close() {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	c.mu.Unlock()
	if !already {
		c.rwc.Close()
	}
}

// write writes whole records; writes from the connection's requests are
// serialised. The first error sticks and closes the connection.
func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(b)
}

func (c *conn) writeLocked(b []byte) error {
	if c.werr != nil {
		return c.werr
	}
	if d := c.srv.WriteTimeout; d > 0 {
		c.rwc.SetWriteDeadline(time.Now().Add(d))
	}
	if _, err := c.rwc.Write(b); err != nil {
		c.werr = fmt.Errorf("%w: %w", errWriteClosed, err)
		go c.close()
		return c.werr
	}
	return nil
}

// writeStream writes p as records of a stream.
func (c *conn) writeStream(typ recType, id uint16, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.scratch = appendRecord(c.scratch[:0], typ, id, p)
	err := c.writeLocked(c.scratch)
	if cap(c.scratch) > outBufSize {
		c.scratch = nil
	}
	return err
}

// request is one FastCGI request on a connection.
type request struct {
	c          *conn
	id         uint16
	role       uint16
	keepConn   bool
	started    bool // PARAMS ended and the handler started; read loop only
	inputEnded bool // guarded by c.mu

	paramsp *[]byte
	params  []byte
	stdin   *body // nil for an authorizer
	data    *body // nil but for a filter

	stdinBody body

	state  atomic.Int32
	ctx    context.Context
	stop   context.CancelCauseFunc
	out    stdout
	errOut stderr
}

// start runs the handler in its own goroutine.
func (req *request) start(env environ.Environ) {
	c := req.c
	req.started = true
	ctx, stop := context.WithCancelCause(c.ctx)
	if req.role == roleFilter {
		ctx = context.WithValue(ctx, dataKey{}, io.Reader(req.data))
	}
	req.ctx, req.stop = ctx, stop
	c.wg.Add(1)
	go req.run(env)
}

func (req *request) run(env environ.Environ) {
	c := req.c
	defer c.wg.Done()
	req.out.init(req)
	req.errOut.req = req
	var in io.Reader = http.NoBody
	if req.stdin != nil {
		in = req.stdin
	}
	var errw io.Writer = &req.errOut
	var logw *gateway.LogWriter
	if c.srv.StderrToLog {
		logw = gateway.NewLogWriter(c.log, "fcgi: application error output", "request", req.id)
		errw = logw
	}
	var status uint32
	func() {
		defer func() {
			if v := recover(); v != nil {
				c.log.Error("fcgi: panic serving request", "request", req.id, "panic", v, "stack", string(debug.Stack()))
				status = 1
			}
		}()
		h := gateway.NewBaseCGI(in, &req.out, errw, env)
		h.Context = req.ctx
		if err := h.Run(req); err != nil {
			status = 1
		}
	}()
	if logw != nil {
		logw.Close()
	}
	req.finish(status)
}

// ServeHTTP runs the server's handler and notes its return, so that the
// final flush of the gateway leaves the last bytes for finish.
func (req *request) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() { req.out.appDone = true }()
	req.c.srv.handler().ServeHTTP(w, r)
}

// finish writes the end of the request: exactly one END_REQUEST.
func (req *request) finish(status uint32) {
	c := req.c
	c.remove(req)
	switch req.state.Load() {
	case stateLive:
		if err := req.out.finish(status, req.errOut.used.Load()); err != nil {
			c.log.Debug("fcgi: ending request", "request", req.id, "err", err)
		}
	case stateAborted:
		c.endAborted(req.id)
	}
	req.stop(context.Canceled)
	req.out.release()
	req.releaseInput()
	c.ended(req)
}

// endAborted writes the END_REQUEST of an aborted request.
func (c *conn) endAborted(id uint16) {
	var b [endRequestLen]byte
	if err := c.write(appendEndRequest(b[:0], id, 1, statusRequestComplete)); err != nil {
		c.log.Debug("fcgi: ending aborted request", "request", id, "err", err)
	}
}

// cancel stops a running request: its context is cancelled with cause and
// its body reads fail with cause.
func (req *request) cancel(state int32, cause error) {
	if !req.state.CompareAndSwap(stateLive, state) {
		return
	}
	if req.stdin != nil {
		req.stdin.close(cause)
	}
	if req.data != nil {
		req.data.close(cause)
	}
	req.stop(cause)
}

func (req *request) releaseInput() {
	if req.paramsp != nil {
		*req.paramsp = req.params[:0]
		paramsPool.Put(req.paramsp)
		req.paramsp, req.params = nil, nil
	}
	if req.stdin != nil {
		req.stdin.release()
	}
	if req.data != nil {
		req.data.release()
	}
}

// writeErr is the error of a write by the handler once the request was
// aborted or its connection closed, nil before.
func (req *request) writeErr() error {
	switch req.state.Load() {
	case stateAborted:
		return errWriteAborted
	case stateConnClosed:
		return errWriteClosed
	}
	return nil
}

// writeFailed turns a failed connection write into the handler's error.
func (req *request) writeFailed(err error) error {
	if e := req.writeErr(); e != nil {
		return e
	}
	return err
}

// dataKey is the context key of a FILTER request's FCGI_DATA stream.
type dataKey struct{}
