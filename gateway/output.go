package gateway

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// maxZeroWrites bounds how often a writer may accept nothing without an
// error before output gives up with io.ErrShortWrite.
const maxZeroWrites = 100

// output writes to the front end's stdout: every write is complete (a short
// write is retried, never dropped) and the first error sticks.
type output struct {
	w   io.Writer
	err error
}

func (o *output) Write(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	written, zeros := 0, 0
	for written < len(p) {
		n, err := o.w.Write(p[written:])
		if n < 0 || n > len(p)-written {
			err = errors.Join(err, errors.New("gateway: stdout returned an invalid write count"))
			n = 0
		}
		written += n
		if err != nil {
			o.err = err
			return written, err
		}
		if n == 0 {
			if zeros++; zeros >= maxZeroWrites {
				o.err = io.ErrShortWrite
				return written, o.err
			}
		}
	}
	return written, nil
}

// flush flushes the front end's stdout when it buffers (a Flush() error
// method).
func (o *output) flush() error {
	if o.err != nil {
		return o.err
	}
	f, ok := o.w.(interface{ Flush() error })
	if !ok {
		return nil
	}
	if err := f.Flush(); err != nil {
		o.err = err
	}
	return o.err
}

// IsClientGone reports whether err says the client (or the web server in
// front of the app) went away: EPIPE, ECONNRESET, ECONNABORTED, a closed
// network connection or a closed pipe, and on Windows a broken or
// disconnected pipe and a reset, aborted or shut-down socket. Such errors
// are not logged.
func IsClientGone(err error) bool {
	return errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.ErrClosedPipe) || isOSClientGone(err)
}
