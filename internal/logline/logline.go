// Package logline turns an error stream into log records: each line
// written becomes one slog record.
package logline

import (
	"bytes"
	"log/slog"
	"sync"
)

// Writer is an error stream that sends each line written to it to a
// slog.Logger, as one record at warning level with the line under "line".
// Front ends use it when the app's error output must not go to the web
// server (IIS turns any FastCGI stderr output into a 500 answer) or when
// the protocol has no error stream (SCGI). It is safe for concurrent use.
type Writer struct {
	mu    sync.Mutex
	log   *slog.Logger
	msg   string
	attrs []any
	src   AttrSource // gives attrs at the first line; nil once asked
	line  []byte
}

// AttrSource gives a Writer's attributes when it logs its first line, so
// that a stream that stays silent (most do) never formats them.
type AttrSource interface {
	LogAttrs() []any // slog key-value pairs
}

// New returns a Writer logging each line to log with message
// msg and the given attributes (slog key-value pairs) first.
func New(log *slog.Logger, msg string, attrs ...any) *Writer {
	return &Writer{log: log, msg: msg, attrs: attrs}
}

// Init prepares a Writer held in a larger structure (no allocation of its
// own): each line goes to log with message msg, after the attributes src
// gives when the first line is logged.
func (w *Writer) Init(log *slog.Logger, msg string, src AttrSource) {
	w.log, w.msg, w.attrs, w.src, w.line = log, msg, nil, src, w.line[:0]
}

// Write logs every complete line of p and keeps the rest for later.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.line = append(w.line, p...)
			break
		}
		w.line = append(w.line, p[:i]...)
		w.logLine()
		p = p[i+1:]
	}
	return n, nil
}

// WriteRecord logs p as one record, whatever lines it holds (the
// gateway writes a panic's report and stack this way); an unterminated line
// written before is logged first.
func (w *Writer) WriteRecord(p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.logLine()
	w.line = append(w.line, bytes.TrimRight(p, "\r\n")...)
	w.logLine()
	return nil
}

// Close logs the last, unterminated line, if any.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.logLine()
	return nil
}

func (w *Writer) logLine() {
	if len(w.line) > 0 {
		if w.src != nil {
			w.attrs, w.src = w.src.LogAttrs(), nil
		}
		args := append(w.attrs[:len(w.attrs):len(w.attrs)], "line", string(bytes.TrimSuffix(w.line, []byte("\r"))))
		w.log.Warn(w.msg, args...)
	}
	w.line = w.line[:0]
}
