package fcgi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"sync"
	"testing"
	"time"
)

// FuzzReadRecords reads arbitrary bytes as a record stream: the reader must
// return records within the limits or an error, never panic, and what it
// returns must survive a round trip through the writer.
func FuzzReadRecords(f *testing.F) {
	for _, b := range recordings(f) {
		f.Add(b)
	}
	f.Add(requestBytes(1, roleFilter, flagKeepConn, getEnv("/"), []byte("body")))
	f.Add(appendRecord(nil, typeGetValues, 0, pairs{{nameMaxConns, ""}}.encode()))
	f.Add([]byte{1, 1, 0, 0, 0, 8, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		rr := newRecordReader(bytes.NewReader(b), nil)
		var params []byte
		for range len(b)/headerLen + 1 {
			rec, err := rr.next()
			if err != nil {
				if err != io.EOF && !errors.Is(err, errMalformed) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				return
			}
			if len(rec.content) > maxContent {
				t.Fatalf("content of %d bytes", len(rec.content))
			}
			again, err := newRecordReader(bytes.NewReader(appendRecord(nil, rec.typ, rec.id, rec.content)), nil).next()
			if len(rec.content) <= maxWrite && (err != nil || again.typ != rec.typ || again.id != rec.id || !bytes.Equal(again.content, rec.content)) {
				t.Fatalf("round trip of %v: %v", rec.typ, err)
			}
			switch rec.typ {
			case typeBeginRequest:
				parseBeginRequest(rec.content)
			case typeParams:
				if len(rec.content) > 0 {
					params = append(params, rec.content...)
				} else {
					decodeParams(params)
					params = params[:0]
				}
			}
		}
		t.Fatal("more records than the input can hold")
	})
}

// FuzzParams decodes arbitrary bytes as a PARAMS stream: an error or an
// environ that encodes back to an equal environ.
func FuzzParams(f *testing.F) {
	for _, b := range recordings(f) {
		reqs, err := parseStream(b)
		if err != nil {
			f.Fatal(err)
		}
		for _, r := range reqs {
			var p pairs
			for k, v := range r.env {
				p = append(p, [2]string{k, v})
			}
			f.Add(p.encode())
		}
	}
	f.Add([]byte{0x80, 0, 0, 1, 1, 'A', 'b'})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := decodeParams(b)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		var p pairs
		for k, v := range env {
			p = append(p, [2]string{k, v})
		}
		again, err := decodeParams(p.encode())
		if err != nil || !maps.Equal(env, again) {
			t.Fatalf("round trip: %v, %v != %v", err, again, env)
		}
	})
}

// FuzzServeConn serves arbitrary bytes as a connection from a web server:
// the server must neither panic nor hang, and what it writes must be well
// formed records, with no more END_REQUEST for an id than BEGIN_REQUEST
// records for it.
func FuzzServeConn(f *testing.F) {
	for _, b := range recordings(f) {
		f.Add(b)
	}
	f.Add(requestBytes(1, roleAuthorizer, flagKeepConn, getEnv("/"), nil))
	f.Add(append(requestBytes(1, roleResponder, flagKeepConn, postEnv("/", 3), []byte("abc")),
		appendRecord(nil, typeAbortRequest, 1, nil)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := &Server{Handler: echo, MaxHeaderBytes: 4096, Logger: discardLogger}
		out := &lockedBuffer{}
		c := newConn(s, &memConn{r: bytes.NewReader(b), w: out}, context.Background())
		c.Serve()
		begun := map[uint16]int{}
		in := newRecordReader(bytes.NewReader(b), nil)
		for {
			rec, err := in.next()
			if err != nil {
				break
			}
			if rec.typ == typeBeginRequest {
				begun[rec.id]++
			}
		}
		rr := newRecordReader(bytes.NewReader(out.bytes()), nil)
		ended := map[uint16]int{}
		for {
			rec, err := rr.next()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("server wrote a bad stream: %v", err)
			}
			switch rec.typ {
			case typeEndRequest:
				if ended[rec.id]++; ended[rec.id] > begun[rec.id] {
					t.Fatalf("%d END_REQUEST for request %d, begun %d times", ended[rec.id], rec.id, begun[rec.id])
				}
			case typeStdout, typeStderr, typeGetValuesResult, typeUnknownType:
			default:
				t.Fatalf("server wrote %v", rec.typ)
			}
		}
	})
}

var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// memConn is a connection that reads from r and writes to w.
type memConn struct {
	r io.Reader
	w io.Writer
}

func (c *memConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *memConn) Write(p []byte) (int, error)      { return c.w.Write(p) }
func (c *memConn) Close() error                     { return nil }
func (c *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9000} }
func (c *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000} }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}
