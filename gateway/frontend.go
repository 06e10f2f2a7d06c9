package gateway

import (
	"errors"
	"io"
	"net"
	"syscall"
	"time"
)

// The contract between the core and a front end.
//
// A front end gives Handler an environ and three streams and calls Run once.
// Besides io.Reader and io.Writer, the streams may implement the interfaces
// below; the core finds them with type assertions:
//
//   - Stdout may implement Flusher: Run calls Flush when the app flushes
//     and once at the end of a complete answer.
//   - Stdout may implement AnswerEnder: Run then calls EndAnswer instead of
//     the final Flush, and the front end sends the buffered tail with the end
//     of its stream once Run returns.
//   - Stdin may implement BufferedInput: the front end takes every byte the
//     web server sends without waiting for the app, so the core never spools
//     the body; before its answer goes out it only waits for the web server
//     to finish sending it, unless the app enabled full duplex.
//   - Stderr may implement RecordWriter: a panic's report and stack go out
//     as one record.
//   - Stdin may implement ReadDeadliner and Stdout WriteDeadliner and
//     FullDuplexer: http.ResponseController's SetReadDeadline,
//     SetWriteDeadline and EnableFullDuplex reach them; without them those
//     calls return http.ErrNotSupported.
//
// Writes on Stdout that fail because the web server or its client went away
// return an error wrapping ErrClientGone; the core then logs nothing and
// Run returns the error.
//
// Run returns nil only when a whole answer went out. Any other result means
// the answer was cut short (a panic or http.ErrAbortHandler after the answer
// began, fewer body bytes than the declared Content-Length, a failed write),
// and the front end must make the web server see an aborted answer: close
// the connection without the protocol's end of request, reset it, or exit
// with a non-zero status, so that no client takes a cut answer for a whole
// one.

// ErrClientGone is wrapped by the write errors of a front end's Stdout when
// the web server or its client is gone. IsClientGone recognises it.
var ErrClientGone = errors.New("gateway: client gone")

// Flusher is implemented by a Stdout that buffers.
type Flusher interface {
	Flush() error
}

// AnswerEnder is implemented by a Stdout that ends the answer itself after
// Run returns. EndAnswer is called once, when the app has returned and the
// whole answer has been written, in place of the final Flush.
type AnswerEnder interface {
	EndAnswer() error
}

// BufferedInput is implemented by a Stdin whose front end never makes the
// web server wait for the app to read: what the app has not read is held by
// the front end (FastCGI's connection read loop spools it). Some web
// servers stop sending the body once the answer begins (nginx does), so
// before the answer's header goes out the core calls AwaitInput, which
// waits until the web server has sent the whole body without taking any of
// it, instead of spooling the body itself. An app that called
// http.ResponseController.EnableFullDuplex is not held back.
type BufferedInput interface {
	AwaitInput() error
}

// RecordWriter is implemented by a Stderr that logs records rather than
// bytes: the gateway writes a panic's report and stack with WriteRecord, so
// that they stay one record.
type RecordWriter interface {
	WriteRecord(p []byte) error
}

// ReadDeadliner is implemented by a Stdin that can bound how long the
// app's body reads wait (http.ResponseController.SetReadDeadline).
type ReadDeadliner interface {
	SetReadDeadline(t time.Time) error
}

// WriteDeadliner is implemented by a Stdout that can bound how long the
// answer's writes wait (http.ResponseController.SetWriteDeadline).
type WriteDeadliner interface {
	SetWriteDeadline(t time.Time) error
}

// FullDuplexer is implemented by a Stdout whose front end lets the app
// write its answer while it still reads the body
// (http.ResponseController.EnableFullDuplex).
type FullDuplexer interface {
	EnableFullDuplex() error
}

// IsClientGone reports whether err says the client (or the web server in
// front of the app) went away: ErrClientGone, EPIPE, ECONNRESET,
// ECONNABORTED, a closed network connection or a closed pipe, and on
// Windows a broken or disconnected pipe and a reset, aborted or shut-down
// socket. Such errors are not logged.
func IsClientGone(err error) bool {
	return errors.Is(err, ErrClientGone) ||
		errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.ErrClosedPipe) ||
		isOSClientGone(err)
}
