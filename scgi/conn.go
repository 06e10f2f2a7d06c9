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

	"github.com/cgiref/cgiref/gateway"
)

// conn is one SCGI connection: one header block, one body, one answer.
type conn struct {
	srv *Server
	rwc net.Conn
	br  *bufio.Reader

	// Guarded by srv.mu.
	active bool // the header is in; Shutdown lets the request finish
	closed bool // Shutdown closed the connection while it awaited its header

	gone      atomic.Bool // the web server closed the connection mid-request
	cancel    context.CancelCauseFunc
	watchOnce sync.Once
	watchDone chan struct{} // closed when the watcher has returned; nil: none
}

// serve reads the request, runs it and closes the connection.
func (c *conn) serve() {
	defer c.rwc.Close()
	defer func() {
		if v := recover(); v != nil {
			buf := make([]byte, 64<<10)
			buf = buf[:runtime.Stack(buf, false)]
			c.srv.logger().Error("scgi: panic serving a connection", "remote", c.remote(), "panic", fmt.Sprint(v), "stack", string(buf))
		}
	}()

	if d := c.srv.headerTimeout(); d > 0 {
		c.rwc.SetReadDeadline(time.Now().Add(d))
	}
	req, err := readHeader(c.br, c.srv.maxHeaderBytes())
	if err != nil {
		c.headerFailed(err)
		return
	}
	if !c.srv.startRequest(c) {
		return
	}
	c.rwc.SetReadDeadline(time.Time{})
	c.run(req)
	c.br.Reset(nil)
	c.srv.readers.Put(c.br)
}

// remote is the connection's peer address for the log.
func (c *conn) remote() string {
	if a := c.rwc.RemoteAddr(); a != nil && a.String() != "" {
		return a.String()
	}
	return "unix"
}

// run runs the request through the gateway and closes the connection
// gracefully.
func (c *conn) run(req request) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	c.cancel = cancel

	bw, _ := c.srv.writers.Get().(*bufio.Writer)
	if bw == nil {
		bw = bufio.NewWriterSize(c.rwc, 4096)
	} else {
		bw.Reset(c.rwc)
	}
	defer func() {
		bw.Reset(nil)
		c.srv.writers.Put(bw)
	}()
	out := &output{c: c, w: bw}
	body := &body{c: c, n: req.contentLength}
	errs := gateway.NewLogWriter(c.srv.logger(), "scgi: application error output",
		"remote", c.remote(), "method", req.env["REQUEST_METHOD"], "uri", req.env["REQUEST_URI"])
	if body.n == 0 {
		c.watch()
	}
	if d := c.srv.WriteTimeout; d > 0 {
		c.rwc.SetWriteDeadline(time.Now().Add(d))
	}

	h := gateway.NewBaseCGI(body, out, errs, req.env)
	h.Context = ctx
	h.SpoolMemory = c.srv.SpoolMemory
	err := h.Run(c.srv.handler())
	errs.Close()
	if bw.Buffered() > 0 {
		if ferr := out.Flush(); err == nil {
			err = ferr
		}
	}
	if err != nil && !gateway.IsClientGone(err) && !errors.Is(err, http.ErrAbortHandler) {
		c.srv.logger().Warn("scgi: answer cut short", "remote", c.remote(), "uri", req.env["REQUEST_URI"], "err", err)
	}
	c.finish(body)
}

// watch starts, once, the goroutine that waits for the web server to close
// the connection. It runs only when the body has been read to its end, so
// every byte it reads is past the request; the read ending (EOF or error)
// means the web server went away, and cancels the request's context.
func (c *conn) watch() {
	c.watchOnce.Do(func() {
		c.rwc.SetReadDeadline(time.Time{})
		c.watchDone = make(chan struct{})
		go func() {
			defer close(c.watchDone)
			_, err := io.Copy(io.Discard, c.br)
			c.gone.Store(true)
			if err != nil {
				c.cancel(fmt.Errorf("%w: %w", ErrConnClosed, err))
			} else {
				c.cancel(ErrConnClosed)
			}
		}()
	})
}

// finish closes the connection without losing the answer: the rest of an
// unread body is read, the write side is shut, and the connection is closed
// when the web server has closed its side; all within lingerTimeout. A body
// read to its end has started the watcher, which reads until that close.
func (c *conn) finish(b *body) {
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
		log.Error("scgi: header block not received in time", "remote", c.remote(), "timeout", c.srv.headerTimeout())
		return
	case errors.Is(err, net.ErrClosed):
		log.Debug("scgi: connection closed while awaiting its header (shutdown)", "remote", c.remote())
		return
	default:
		log.Error("scgi: reading the header block", "remote", c.remote(), "err", err)
		return
	}
	log.Error("scgi: bad request", "remote", c.remote(), "err", err)
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
	c   *conn
	n   int64 // bytes left
	err error // sticky read error
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
	if d := b.c.srv.ReadTimeout; d > 0 && b.c.br.Buffered() == 0 {
		b.c.rwc.SetReadDeadline(time.Now().Add(d))
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

// output is the connection's write side as the gateway's Stdout: buffered,
// flushed when the gateway asks.
type output struct {
	c *conn
	w *bufio.Writer
}

// errGone is what writes return once the web server has closed the
// connection.
var errGone = fmt.Errorf("scgi: writing the answer: %w (%w)", ErrConnClosed, net.ErrClosed)

func (o *output) Write(p []byte) (int, error) {
	if o.c.gone.Load() {
		return 0, errGone
	}
	n, err := o.w.Write(p)
	if err != nil {
		err = fmt.Errorf("scgi: writing the answer: %w", err)
	}
	return n, err
}

// Flush sends what is buffered to the web server.
func (o *output) Flush() error {
	if o.c.gone.Load() {
		return errGone
	}
	if err := o.w.Flush(); err != nil {
		return fmt.Errorf("scgi: writing the answer: %w", err)
	}
	return nil
}

// ReadFrom copies r to the connection, letting the network use sendfile or
// splice when it can.
func (o *output) ReadFrom(r io.Reader) (int64, error) {
	if o.c.gone.Load() {
		return 0, errGone
	}
	n, err := o.w.ReadFrom(r)
	if err != nil {
		err = fmt.Errorf("scgi: writing the answer: %w", err)
	}
	return n, err
}
