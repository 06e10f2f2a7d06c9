package scgi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cgiref/cgiref/environ"
	"github.com/cgiref/cgiref/gateway"
	"github.com/cgiref/cgiref/internal/logline"
	"github.com/cgiref/cgiref/internal/server"
	"github.com/cgiref/cgiref/internal/stats"
)

// Buffers reused from one connection to the next.
var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4096) }}
)

// conn is one SCGI connection: one header block, one body, one answer.
type conn struct {
	srv *Server
	rwc net.Conn
	br  *bufio.Reader
	ctx context.Context

	accepted time.Time

	mu     sync.Mutex
	active bool // the header is in: Shutdown lets the request finish
	closed bool // Close was called

	gone       atomic.Bool // the web server broke the connection mid-request
	cancel     context.CancelCauseFunc
	watchOnce  sync.Once
	watchDone  chan struct{} // closed when the watcher has returned; nil: none
	watchTimer *time.Timer   // starts the watcher of a bodiless request after watchDelay

	errLog logline.Writer // the application's error output (gateway.Errors)
	pairs  environ.Pairs  // the request's environ, as sent

	// The request's streams and gateway, kept here so that a connection
	// costs one allocation for all of them.
	out  output
	body body
	gw   gateway.Handler
}

func (s *Server) newConn(ctx context.Context, rwc net.Conn) *conn {
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(rwc)
	return &conn{srv: s, rwc: rwc, br: br, ctx: ctx, accepted: time.Now()}
}

// Serve reads the request, runs it and closes the connection.
func (c *conn) Serve() {
	defer c.Close()
	defer func() {
		if v := recover(); v != nil {
			buf := make([]byte, 64<<10)
			buf = buf[:runtime.Stack(buf, false)]
			c.srv.logger().Error("scgi: panic serving a connection", "remote", c.remote(), "panic", fmt.Sprint(v), "stack", string(buf))
		}
	}()
	if d := c.srv.readHeaderTimeout(); d > 0 {
		c.rwc.SetReadDeadline(time.Now().Add(d))
	}
	req, err := readHeader(c.br, c.srv.maxHeaderBytes())
	if err != nil {
		c.headerFailed(err)
		return
	}
	if !c.start() {
		return
	}
	// The header's read deadline stays: every later read sets its own.
	c.run(req)
	c.br.Reset(nil)
	readerPool.Put(c.br)
}

// start marks the connection as running a request, so that Shutdown lets
// it finish. It fails when the connection was closed while its header was
// awaited.
func (c *conn) start() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active = !c.closed
	return c.active
}

// Shutdown closes the connection while it awaits its header, once it is
// server.NewConnGrace old (the web server may have sent the request before
// it saw the listener close); a request in flight finishes, and its
// connection closes after the answer.
func (c *conn) Shutdown() {
	c.mu.Lock()
	waiting := !c.active && time.Since(c.accepted) > server.NewConnGrace
	c.mu.Unlock()
	if waiting {
		c.Close()
	}
}

// Close closes the connection.
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

// remote is the connection's peer address for the log.
func (c *conn) remote() string {
	if a := c.rwc.RemoteAddr(); a != nil {
		if s := a.String(); s != "" {
			return s
		}
	}
	return "unix"
}

// run runs the request through the gateway, then closes the connection:
// gracefully after a whole answer, with a reset after a cut one.
func (c *conn) run(req request) {
	start := time.Now()
	c.srv.srv.SetState(c.rwc, http.StateActive)
	ctx, cancel := context.WithCancelCause(c.ctx)
	defer cancel(nil)
	c.cancel = cancel

	bw := writerPool.Get().(*bufio.Writer)
	c.out = output{c: c, w: bw}
	out := &c.out
	bw.Reset(deadlineWriter{out})
	defer func() {
		bw.Reset(nil)
		writerPool.Put(bw)
	}()
	c.pairs = req.pairs
	env := &c.pairs
	c.body = body{c: c, n: req.contentLength}
	body := &c.body
	if body.n == 0 {
		c.watchTimer = time.AfterFunc(watchDelay, c.watch)
	}
	if p := c.srv.PingPath; p != "" && gateway.RequestPath(env) == p {
		c.srv.counters.Ping()
		out.Write(pong)
		out.Flush()
		c.finish(body)
		return
	}
	c.srv.counters.RequestStarted()
	if d := c.srv.SlowRequest; d > 0 {
		defer stats.WatchSlow(ctx, c.srv.logger(), d, c.pairs.Get("REQUEST_METHOD"), gateway.RequestTarget(env), &c.srv.counters)()
	}
	errs := c.errorStream(req)
	// As gateway.NewBaseCGI, without an allocation of its own.
	c.gw = gateway.Handler{Stdin: body, Stdout: out, Stderr: errs, Pairs: req.pairs, Multithread: true}
	h := &c.gw
	h.Context, h.ScopedContext = ctx, true
	h.SpoolMemory = c.srv.SpoolMemory
	h.TempDir = c.srv.TempDir
	h.MaxBodyBytes = c.srv.maxBodyBytes()
	h.Timeout = c.srv.RequestTimeout
	err := h.Run(c.srv.handler())
	cause := context.Cause(ctx)
	cancel(nil)      // the request's context ends with the handler, as under net/http
	c.errLog.Close() // its last line
	res := h.Result()
	outcome := outcomeOf(cause, err, res)
	c.srv.counters.RequestEnded(outcome)
	c.srv.counters.BytesIn(req.headerLen + req.contentLength - body.n)
	c.srv.counters.BytesOut(out.written)
	if c.srv.AccessLog != nil {
		defer func() { c.srv.AccessLog(gateway.NewAccessRecord(env, res, start, "scgi", outcome.String())) }()
	}
	if err != nil {
		if !gateway.IsClientGone(err) && !errors.Is(err, http.ErrAbortHandler) {
			c.srv.logger().Warn("scgi: answer cut short: resetting the connection", "remote", c.remote(), "uri", c.pairs.Get("REQUEST_URI"), "err", err)
		}
		c.reset()
		return
	}
	c.finish(body)
}

// pong is the answer to PingPath.
var pong = []byte("Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 4\r\n\r\npong")

// outcomeOf says how a request ended.
func outcomeOf(cause, err error, res gateway.Result) stats.Outcome {
	switch {
	case res.TimedOut:
		return stats.TimedOut
	case res.Panicked:
		return stats.Panicked
	case errors.Is(cause, ErrConnClosed), err != nil && gateway.IsClientGone(err):
		return stats.ClientGone
	case err != nil:
		return stats.Cut
	}
	return stats.Completed
}

// errorStream returns the request's error stream as Server.Errors says:
// io.Discard, or c.errLog, which logs each line (its last, unterminated
// line once c.errLog is closed).
func (c *conn) errorStream(req request) io.Writer {
	if c.srv.Errors == gateway.ErrorsDiscard {
		return io.Discard
	}
	c.errLog.Init(c.srv.logger(), "scgi: application error output", c)
	return &c.errLog
}

// LogAttrs gives the attributes of the application's error output, when
// its first line is logged (logline.AttrSource).
func (c *conn) LogAttrs() []any {
	return []any{"remote", c.remote(), "method", c.pairs.Get("REQUEST_METHOD"), "uri", c.pairs.Get("REQUEST_URI")}
}

// reset closes the connection so that the web server sees an error, not
// the end of the answer: a TCP reset. A unix socket has no reset; the web
// server sees the answer end, and only a declared Content-Length shows it
// cut.
func (c *conn) reset() {
	c.stopWatchTimer()
	if tc, ok := c.rwc.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
	if c.watchDone != nil {
		<-c.watchDone // it reads from c.br, which goes back to its pool
	}
}

// watchDelay is how long a bodiless request runs before the watcher starts
// (watch): most answers are out before, and spare the goroutine and its
// read; a web server that breaks the connection of a request still running
// is noticed at most this late.
const watchDelay = time.Millisecond

// stopWatchTimer stops the timer that starts the watcher; when it has fired,
// it waits until watch has set the watcher up, so that watchDone may be
// read.
func (c *conn) stopWatchTimer() {
	if c.watchTimer != nil && !c.watchTimer.Stop() {
		c.watchOnce.Do(func() {}) // returns once the timer's call of watch has
	}
}

// watch starts, once, the goroutine that waits for the web server to break
// the connection. It runs only when the body has been read to its end, so
// every byte it reads is past the request. A read error (a reset) means
// the web server went away and cancels the request's context; the end of
// the stream does not: a web server or client library may half-close its
// side after the request (flup does) and still read the answer. A web
// server that closes both sides is noticed when a write fails.
func (c *conn) watch() {
	c.watchOnce.Do(func() {
		c.rwc.SetReadDeadline(time.Time{})
		c.watchDone = make(chan struct{})
		go func() {
			defer close(c.watchDone)
			_, err := io.Copy(io.Discard, c.br)
			if err != nil && !isTimeout(err) && !errors.Is(err, net.ErrClosed) {
				c.gone.Store(true)
				c.cancel(fmt.Errorf("%w: %w", ErrConnClosed, err))
			}
		}()
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// finish closes the connection without losing the answer. When the body
// was read to its end, no watcher runs and nothing more has arrived
// (server.PendingInput), a plain close (Serve's) cannot turn into a reset:
// the usual case. Otherwise the rest of an unread body is read, the write
// side is shut, and the connection is closed when the web server has closed
// its side; all within lingerTimeout. A body read to its end has started
// the watcher, which reads until that close.
func (c *conn) finish(b *body) {
	c.stopWatchTimer()
	if c.watchDone == nil && b.n == 0 && !server.PendingInput(c.rwc) {
		return
	}
	c.rwc.SetReadDeadline(time.Now().Add(lingerTimeout))
	if b.n > 0 && b.err == nil {
		io.Copy(io.Discard, b)
	}
	if cw, ok := c.rwc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	if c.watchDone != nil {
		// watch cleared the deadline when it started.
		c.rwc.SetReadDeadline(time.Now().Add(lingerTimeout))
		<-c.watchDone
	}
	// Otherwise the body could not be read to its end: the connection is
	// broken or too slow, and there is nothing left to wait for.
}

// headerFailed handles a header block that could not be read: a broken one
// is answered with 400 Bad Request when the connection still allows it;
// every failure but a connection closed before its first byte is logged.
func (c *conn) headerFailed(err error) {
	log := c.srv.logger()
	var reason string
	var he *headerError
	switch {
	case err == io.EOF:
		log.Debug("scgi: connection closed before a request", "remote", c.remote())
		return
	case errors.As(err, &he):
		reason = he.reason
	case err == io.ErrUnexpectedEOF:
		reason = "header block cut short"
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.srv.counters.Refused(stats.Timeout)
		c.srv.rl.Warn("scgi: header block not received in time", "scgi: header block not received in time", "remote", c.remote(), "timeout", c.srv.readHeaderTimeout())
		return
	case errors.Is(err, net.ErrClosed):
		log.Debug("scgi: connection closed while awaiting its header (shutdown)", "remote", c.remote())
		return
	default:
		c.srv.rl.Error("scgi: reading the header block", "scgi: reading the header block", "remote", c.remote(), "err", err)
		return
	}
	c.srv.counters.Refused(stats.BadRequest)
	c.srv.rl.Error("scgi: bad request", "scgi: bad request", "remote", c.remote(), "err", err)
	c.rwc.SetWriteDeadline(time.Now().Add(lingerTimeout))
	if _, werr := c.rwc.Write(badRequest(reason)); werr != nil {
		return
	}
	if cw, ok := c.rwc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.rwc.SetReadDeadline(time.Now().Add(lingerTimeout))
	io.CopyN(io.Discard, c.br, maxDrain)
}

// badRequest is the CGI answer to a header block that breaks the protocol.
func badRequest(reason string) []byte {
	body := "Bad Request: " + reason + "\n"
	b := make([]byte, 0, 96+len(body))
	b = append(b, "Status: 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}

// body is the request body: exactly the declared number of bytes of the
// connection, streamed. A connection that ends early gives
// io.ErrUnexpectedEOF.
type body struct {
	c        *conn
	n        int64 // bytes left
	err      error // sticky read error
	deadline time.Time
}

func (b *body) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if b.err != nil {
		return 0, b.err
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	if b.c.br.Buffered() == 0 {
		b.c.rwc.SetReadDeadline(b.readDeadline())
	}
	n, err := b.c.br.Read(p)
	b.n -= int64(n)
	if b.n == 0 {
		b.c.watch()
		return n, nil
	}
	if err != nil {
		if err == io.EOF {
			b.err = io.ErrUnexpectedEOF
		} else {
			b.err = fmt.Errorf("scgi: reading the request body: %w", err)
		}
		b.c.gone.Store(true)
		b.c.cancel(fmt.Errorf("%w: %w", ErrConnClosed, b.err))
		return n, b.err
	}
	return n, nil
}

// readDeadline is the earlier of ReadTimeout from now and the request's
// own deadline (SetReadDeadline); zero for none.
func (b *body) readDeadline() time.Time {
	t := b.deadline
	if d := b.c.srv.readTimeout(); d > 0 {
		if r := time.Now().Add(d); t.IsZero() || r.Before(t) {
			t = r
		}
	}
	return t
}

// SetReadDeadline bounds the handler's body reads
// (http.ResponseController).
func (b *body) SetReadDeadline(t time.Time) error {
	b.deadline = t
	return nil
}

// output is the connection's write side as the gateway's Stdout: buffered,
// flushed when the gateway asks.
type output struct {
	c        *conn
	w        *bufio.Writer
	deadline time.Time // the request's own write deadline
	armed    bool      // the connection has a write deadline set
	written  int64     // bytes of the answer
}

// errGone is what writes return once the web server has broken the
// connection.
var errGone = fmt.Errorf("scgi: writing the answer: %w (%w)", ErrConnClosed, gateway.ErrClientGone)

func (o *output) Write(p []byte) (int, error) {
	if o.c.gone.Load() {
		return 0, errGone
	}
	n, err := o.w.Write(p)
	o.written += int64(n)
	return n, err
}

// Flush sends what is buffered to the web server.
func (o *output) Flush() error {
	if o.c.gone.Load() {
		return errGone
	}
	return o.w.Flush()
}

// SetWriteDeadline bounds the writes of the answer
// (http.ResponseController).
func (o *output) SetWriteDeadline(t time.Time) error {
	o.deadline = t
	return nil
}

// deadlineWriter writes to the connection, each write bounded by
// WriteTimeout and the request's write deadline.
type deadlineWriter struct{ o *output }

func (d deadlineWriter) Write(p []byte) (int, error) {
	c := d.o.c
	t := d.o.deadline
	if wt := c.srv.writeTimeout(); wt > 0 {
		if w := time.Now().Add(wt); t.IsZero() || w.Before(t) {
			t = w
		}
	}
	if !t.IsZero() || d.o.armed {
		c.rwc.SetWriteDeadline(t)
		d.o.armed = !t.IsZero()
	}
	n, err := c.rwc.Write(p)
	if err != nil {
		err = fmt.Errorf("scgi: writing the answer: %w", err)
		if gateway.IsClientGone(err) {
			c.gone.Store(true)
			c.cancel(fmt.Errorf("%w: %w", ErrConnClosed, err))
		}
	}
	return n, err
}
