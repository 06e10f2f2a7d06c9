package scgi_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cgiref/cgiref/scgi"
)

// This file compares cgiref's SCGI server with net/http.Server, the
// alternative behind nginx's proxy_pass, over a real loopback socket with
// the same hello-world handler as scripts/bench.sh. SCGI has a connection
// per request, so net/http gets one too (what nginx's proxy_pass sends
// without an upstream keepalive pool), and a "tcp-floor" server that
// answers fixed bytes shows what the connection alone costs. The client
// sends prebuilt requests carrying the same information (what nginx sends
// for wrk's GET /) and reads the answers into a fixed buffer, so that
// allocs/op and B/op are the servers' own cost plus the same dial.

// helloBody is the answer of helloHandler.
const helloBody = "Hello world!\n"

// helloHandler is scripts/bench's handler.
var helloHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, helloBody)
})

// nginxSCGI is the SCGI request scripts/bench.sh's nginx sends for wrk's
// request: CONTENT_LENGTH first, then its scgi_params, then Host.
var nginxSCGI = scgiRequest(
	"CONTENT_LENGTH", "0", "SCGI", "1", "QUERY_STRING", "", "REQUEST_METHOD", "GET",
	"CONTENT_TYPE", "", "SCRIPT_NAME", "", "PATH_INFO", "/", "REQUEST_URI", "/", "DOCUMENT_URI", "/",
	"DOCUMENT_ROOT", "/usr/share/nginx/html", "SERVER_PROTOCOL", "HTTP/1.1", "REQUEST_SCHEME", "http",
	"GATEWAY_INTERFACE", "CGI/1.1", "SERVER_SOFTWARE", "nginx/1.22.1", "REMOTE_ADDR", "127.0.0.1",
	"REMOTE_PORT", "50000", "SERVER_ADDR", "127.0.0.1", "SERVER_PORT", "10080", "SERVER_NAME", "",
	"HTTP_HOST", "127.0.0.1:10080",
)

// proxyRequestClose is what nginx's proxy_pass sends upstream for the same
// request without keepalive.
const proxyRequestClose = "GET / HTTP/1.0\r\nHost: 127.0.0.1:10080\r\nConnection: close\r\n\r\n"

// scgiRequest encodes name, value pairs as an SCGI netstring.
func scgiRequest(kv ...string) []byte {
	var h []byte
	for _, s := range kv {
		h = append(h, s...)
		h = append(h, 0)
	}
	b := strconv.AppendInt(nil, int64(len(h)), 10)
	b = append(b, ':')
	b = append(b, h...)
	return append(b, ',')
}

// roundTrip dials addr, writes req and reads the answer to the
// connection's end into buf; it returns the answer's length.
func roundTrip(addr string, req, buf []byte) (int, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := c.Write(req); err != nil {
		return 0, err
	}
	n := 0
	for {
		if n == len(buf) {
			return n, io.ErrShortBuffer
		}
		m, err := c.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// benchServer is a server under comparison.
type benchServer struct {
	name  string
	req   []byte
	serve func(l net.Listener) (stop func())
}

var scgiBenchServers = []benchServer{
	{"tcp-floor", []byte(proxyRequestClose), serveFixed},
	{"cgiref-scgi", nginxSCGI, func(l net.Listener) func() {
		s := &scgi.Server{Handler: helloHandler}
		go s.Serve(l)
		return func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s.Shutdown(ctx)
		}
	}},
	{"net-http", []byte(proxyRequestClose), func(l net.Listener) func() {
		s := &http.Server{Handler: helloHandler}
		go s.Serve(l)
		return func() { s.Close() }
	}},
}

// fixedAnswer is the HTTP answer of serveFixed.
const fixedAnswer = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n" + helloBody

// serveFixed accepts connections and answers each with fixedAnswer once the
// request's first bytes arrive, then closes it: the cost of the connection
// alone.
func serveFixed(l net.Listener) func() {
	go func() {
		buf := make([]byte, 4096)
		ans := []byte(fixedAnswer)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if _, err := c.Read(buf); err == nil {
				c.Write(ans)
			}
			c.Close()
		}
	}()
	return func() { l.Close() }
}

// startBench listens on loopback and starts srv there.
func startBench(tb testing.TB, srv benchServer) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.serve(l))
	return l.Addr().String()
}

// isHello reports whether answer is a text/plain hello world.
func isHello(answer []byte) bool {
	return bytes.Contains(answer, []byte("Content-Type: text/plain")) &&
		bytes.HasSuffix(answer, []byte("\r\n\r\n"+helloBody))
}

// BenchmarkHelloPerConn answers the hello world on a new connection per
// request: cgiref's SCGI server against net/http.Server answering nginx's
// proxy_pass request, with the connection's own cost as tcp-floor.
func BenchmarkHelloPerConn(b *testing.B) {
	for _, srv := range scgiBenchServers {
		b.Run(srv.name, func(b *testing.B) {
			addr := startBench(b, srv)
			buf := make([]byte, 4096)
			n, err := roundTrip(addr, srv.req, buf)
			if err != nil || !isHello(buf[:n]) {
				b.Fatalf("answer %q: %v", buf[:n], err)
			}
			b.ReportAllocs()
			done := reportCPU(b)
			for b.Loop() {
				if n, err := roundTrip(addr, srv.req, buf); err != nil || n == 0 {
					b.Fatalf("answer of %d bytes: %v", n, err)
				}
			}
			done()
		})
	}
}

// TestBenchClient checks the benchmark's client against each server, so that
// a broken client cannot make the benchmark measure nothing.
func TestBenchClient(t *testing.T) {
	for _, srv := range scgiBenchServers {
		t.Run(srv.name, func(t *testing.T) {
			addr := startBench(t, srv)
			buf := make([]byte, 4096)
			for i := 0; i < 3; i++ {
				n, err := roundTrip(addr, srv.req, buf)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if !isHello(buf[:n]) {
					t.Fatalf("request %d: answer %q, want a text/plain hello world", i, buf[:n])
				}
			}
		})
	}
}

// processCPU is the CPU time (user and system, all threads) the process has
// used, from /proc/self/stat; ok is false where there is no such file.
func processCPU() (d time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	// After "pid (comm) ", utime and stime are the 12th and 13th fields.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	const tick = 10 * time.Millisecond // USER_HZ is 100 on every Linux ABI
	return time.Duration(utime+stime) * tick, true
}

// reportCPU reports, as cpu-ns/op, the process CPU time b's loop used per
// iteration (client and server together; the client is the same for every
// server compared). It is called before the loop; the returned function
// after it.
func reportCPU(b *testing.B) func() {
	start, ok := processCPU()
	return func() {
		end, ok2 := processCPU()
		if ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
