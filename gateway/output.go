package gateway

import (
	"errors"
	"io"
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

// flush flushes the front end's stdout when it is a Flusher.
func (o *output) flush() error {
	if o.err != nil {
		return o.err
	}
	if f, ok := o.w.(Flusher); ok {
		if err := f.Flush(); err != nil {
			o.err = err
		}
	}
	return o.err
}

// end ends a complete answer: EndAnswer when stdout is an AnswerEnder, else
// the final flush.
func (o *output) end() error {
	if o.err != nil {
		return o.err
	}
	e, ok := o.w.(AnswerEnder)
	if !ok {
		return o.flush()
	}
	if err := e.EndAnswer(); err != nil {
		o.err = err
	}
	return o.err
}
