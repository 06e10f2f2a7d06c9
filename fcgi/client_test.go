package fcgi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"
)

// testTimeout bounds every wait of the tests.
const testTimeout = 10 * time.Second

// startServer serves s on a loopback listener until the test ends.
func startServer(t testing.TB, s *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return l.Addr().String()
}

// client is a multiplexing FastCGI client for the tests.
type client struct {
	t    testing.TB
	conn net.Conn
	rr   *recordReader
	wmu  sync.Mutex
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(testTimeout))
	return &client{t: t, conn: conn, rr: newRecordReader(bufio.NewReader(conn), nil)}
}

// send writes raw bytes; a failure is reported, as the server may have
// closed the connection on purpose.
func (c *client) send(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.conn.Write(b)
	return err
}

func (c *client) mustSend(b []byte) {
	c.t.Helper()
	if err := c.send(b); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// pairs is an ordered list of name-value pairs.
type pairs [][2]string

func (p pairs) encode() []byte {
	var b []byte
	for _, kv := range p {
		b = appendPair(b, kv[0], kv[1])
	}
	return b
}

// getEnv is the environ of a plain GET request.
func getEnv(uri string) pairs {
	return pairs{
		{"REQUEST_METHOD", "GET"},
		{"REQUEST_URI", uri},
		{"SCRIPT_NAME", ""},
		{"SERVER_PROTOCOL", "HTTP/1.1"},
		{"SERVER_NAME", "example.test"},
		{"SERVER_PORT", "80"},
		{"REMOTE_ADDR", "192.0.2.1"},
		{"GATEWAY_INTERFACE", "CGI/1.1"},
	}
}

func postEnv(uri string, n int) pairs {
	p := getEnv(uri)
	p[0][1] = "POST"
	return append(p, [2]string{"CONTENT_LENGTH", fmt.Sprint(n)}, [2]string{"CONTENT_TYPE", "application/octet-stream"})
}

// requestBytes encodes a whole request: BEGIN_REQUEST, PARAMS, STDIN.
func requestBytes(id uint16, role uint16, flags uint8, env pairs, stdin []byte) []byte {
	b := appendBeginRequest(nil, id, role, flags)
	b = appendRecord(b, typeParams, id, env.encode())
	b, _ = appendHeader(b, typeParams, id, 0)
	if len(stdin) > 0 {
		b = appendRecord(b, typeStdin, id, stdin)
	}
	b, _ = appendHeader(b, typeStdin, id, 0)
	return b
}

// response is what a client read for one request.
type response struct {
	stdout, stderr bytes.Buffer
	ends           int
	end            endRequest
	stdoutClosed   bool
}

// body returns the CGI body of the answer (after the blank line).
func (r *response) body() string {
	_, b, _ := bytes.Cut(r.stdout.Bytes(), []byte("\r\n\r\n"))
	return string(b)
}

// head returns the CGI header block of the answer.
func (r *response) head() string {
	h, _, _ := bytes.Cut(r.stdout.Bytes(), []byte("\r\n\r\n"))
	return string(h)
}

// results reads records until every id in ids has its END_REQUEST, and
// fails the test on anything unexpected.
func (c *client) results(ids ...uint16) map[uint16]*response {
	c.t.Helper()
	res := make(map[uint16]*response)
	want := make(map[uint16]bool)
	for _, id := range ids {
		res[id] = new(response)
		want[id] = true
	}
	for len(want) > 0 {
		rec, err := c.rr.next()
		if err != nil {
			c.t.Fatalf("reading records (waiting for %v): %v", keys(want), err)
		}
		r := res[rec.id]
		if r == nil {
			c.t.Fatalf("record %v for unexpected request %d", rec.typ, rec.id)
		}
		switch rec.typ {
		case typeStdout:
			if r.stdoutClosed {
				c.t.Errorf("request %d: STDOUT after the end of the stream", rec.id)
			}
			if len(rec.content) == 0 {
				r.stdoutClosed = true
			}
			r.stdout.Write(rec.content)
		case typeStderr:
			r.stderr.Write(rec.content)
		case typeEndRequest:
			r.ends++
			r.end, err = parseEndRequest(rec.content)
			if err != nil {
				c.t.Fatal(err)
			}
			delete(want, rec.id)
		default:
			c.t.Fatalf("unexpected record %v for request %d", rec.typ, rec.id)
		}
	}
	return res
}

// expectClosed checks that the server closes the connection (after any
// records it still sends).
func (c *client) expectClosed() {
	c.t.Helper()
	for range 1000 {
		if _, err := c.rr.next(); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, errMalformed) || errors.Is(err, net.ErrClosed) || isReset(err) {
				return
			}
			c.t.Fatalf("waiting for the server to close: %v", err)
		}
	}
	c.t.Fatal("the server did not close the connection")
}

func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && !oe.Timeout()
}

// expectOpen checks that the connection still serves requests.
func (c *client) expectOpen(id uint16) {
	c.t.Helper()
	c.mustSend(requestBytes(id, roleResponder, flagKeepConn, getEnv("/still-open"), nil))
	r := c.results(id)[id]
	if !bytes.HasPrefix(r.stdout.Bytes(), []byte("Status: 200 OK\r\n")) {
		c.t.Fatalf("request on the connection answered %q", r.stdout.String())
	}
}

func keys(m map[uint16]bool) []uint16 {
	var k []uint16
	for id := range m {
		k = append(k, id)
	}
	sort.Slice(k, func(i, j int) bool { return k[i] < k[j] })
	return k
}

// hello answers "Hello" for every request.
var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "Hello")
})

// echo answers the request body.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	io.Copy(w, r.Body)
})

// waitFor waits for ch within the test timeout.
func waitFor[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}
