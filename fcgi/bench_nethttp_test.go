package fcgi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	stdfcgi "net/http/fcgi"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cgiref/cgiref/fcgi"
)

// This file compares cgiref's FastCGI server with net/http.Server, the
// alternative behind nginx's proxy_pass, over a real loopback socket with
// the same hello-world handler as scripts/bench.sh. The clients send
// prebuilt requests that carry the same information (what nginx sends for
// wrk's GET /) and read the answers without allocating, so that allocs/op
// and B/op are the servers' own cost per request.

// helloBody is the answer of helloHandler.
const helloBody = "Hello world!\n"

// helloHandler is scripts/bench's handler.
var helloHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, helloBody)
})

// nginxParams are the FastCGI params scripts/bench.sh's nginx sends for
// wrk's request (Host only; wrk sends no other field).
var nginxParams = [][2]string{
	{"CONTENT_LENGTH", ""}, {"QUERY_STRING", ""}, {"REQUEST_METHOD", "GET"}, {"CONTENT_TYPE", ""},
	{"SCRIPT_NAME", ""}, {"PATH_INFO", "/"}, {"REQUEST_URI", "/"}, {"DOCUMENT_URI", "/"},
	{"DOCUMENT_ROOT", "/usr/share/nginx/html"}, {"SERVER_PROTOCOL", "HTTP/1.1"}, {"REQUEST_SCHEME", "http"},
	{"GATEWAY_INTERFACE", "CGI/1.1"}, {"SERVER_SOFTWARE", "nginx/1.22.1"}, {"REMOTE_ADDR", "127.0.0.1"},
	{"REMOTE_PORT", "50000"}, {"SERVER_ADDR", "127.0.0.1"}, {"SERVER_PORT", "10080"}, {"SERVER_NAME", ""},
	{"HTTP_HOST", "127.0.0.1:10080"},
}

// proxyRequest is what nginx's proxy_pass (HTTP/1.1, Connection "") sends
// upstream for the same request; proxyRequestClose the same with a new
// connection per request.
const (
	proxyRequest      = "GET / HTTP/1.1\r\nHost: 127.0.0.1:10080\r\n\r\n"
	proxyRequestClose = "GET / HTTP/1.0\r\nHost: 127.0.0.1:10080\r\nConnection: close\r\n\r\n"
)

// FastCGI record types and flags the client uses.
const (
	fcgiBeginRequest = 1
	fcgiEndRequest   = 3
	fcgiParams       = 4
	fcgiStdin        = 5
	fcgiStdout       = 6
	fcgiKeepConn     = 1
)

// fcgiRequest builds the records of a responder request with id 1: BEGIN_REQUEST,
// the params and an empty STDIN.
func fcgiRequest(params [][2]string, keepConn bool) []byte {
	var flags byte
	if keepConn {
		flags = fcgiKeepConn
	}
	var p []byte
	for _, kv := range params {
		p = appendLen(p, len(kv[0]))
		p = appendLen(p, len(kv[1]))
		p = append(p, kv[0]...)
		p = append(p, kv[1]...)
	}
	b := appendFCGIRecord(nil, fcgiBeginRequest, []byte{0, 1, flags, 0, 0, 0, 0, 0})
	b = appendFCGIRecord(b, fcgiParams, p)
	b = appendFCGIRecord(b, fcgiParams, nil)
	return appendFCGIRecord(b, fcgiStdin, nil)
}

func appendLen(b []byte, n int) []byte {
	if n < 128 {
		return append(b, byte(n))
	}
	return binary.BigEndian.AppendUint32(b, uint32(n)|1<<31)
}

// appendFCGIRecord appends one record of request 1 (content under 64 KiB).
func appendFCGIRecord(b []byte, typ byte, content []byte) []byte {
	pad := -len(content) & 7
	b = append(b, 1, typ, 0, 1, byte(len(content)>>8), byte(len(content)), byte(pad), 0)
	b = append(b, content...)
	return append(b, make([]byte, pad)...)
}

// benchConn is the client side of one connection: it writes a prebuilt
// request and reads the answer, allocating nothing.
type benchConn struct {
	c   net.Conn
	br  *bufio.Reader
	hdr [8]byte
}

func dialBench(tb testing.TB, addr string, br *bufio.Reader) *benchConn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Minute))
	br.Reset(c)
	return &benchConn{c: c, br: br}
}

// fcgiAnswer writes req and reads records up to END_REQUEST; it returns the
// number of STDOUT bytes. body, when not nil, receives them.
func (bc *benchConn) fcgiAnswer(req []byte, body *bytes.Buffer) (int, error) {
	if _, err := bc.c.Write(req); err != nil {
		return 0, err
	}
	n := 0
	for {
		if _, err := io.ReadFull(bc.br, bc.hdr[:]); err != nil {
			return n, err
		}
		clen := int(binary.BigEndian.Uint16(bc.hdr[4:6]))
		pad := int(bc.hdr[6])
		typ := bc.hdr[1]
		if typ == fcgiStdout {
			n += clen
			if body != nil {
				if _, err := io.CopyN(body, bc.br, int64(clen)); err != nil {
					return n, err
				}
				clen = 0
			}
		}
		if _, err := bc.br.Discard(clen + pad); err != nil {
			return n, err
		}
		if typ == fcgiEndRequest {
			return n, nil
		}
	}
}

// httpAnswer writes req and reads one HTTP/1.x answer with a Content-Length;
// it returns the body's length. body, when not nil, receives the whole
// answer.
func (bc *benchConn) httpAnswer(req []byte, body *bytes.Buffer) (int, error) {
	if _, err := bc.c.Write(req); err != nil {
		return 0, err
	}
	length := -1
	for {
		line, err := bc.br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if body != nil {
			body.Write(line)
		}
		if len(line) <= 2 {
			break
		}
		const cl = "content-length:"
		if len(line) > len(cl) && bytes.EqualFold(line[:len(cl)], []byte(cl)) {
			length = atoi(bytes.TrimSpace(line[len(cl):]))
		}
	}
	if length < 0 {
		return 0, errors.New("answer without Content-Length")
	}
	if body != nil {
		_, err := io.CopyN(body, bc.br, int64(length))
		return length, err
	}
	_, err := bc.br.Discard(length)
	return length, err
}

func atoi(b []byte) int {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// drain reads the connection to its end (the server closes it) and closes
// it.
func (bc *benchConn) drain() error {
	_, err := bc.br.Discard(1 << 30)
	bc.c.Close()
	if err == io.EOF {
		return nil
	}
	return err
}

// benchServer is a server under comparison.
type benchServer struct {
	name  string
	http  bool // speaks HTTP, not FastCGI
	serve func(l net.Listener, h http.Handler) (stop func())
}

var fcgiBenchServers = []benchServer{
	{"cgiref-fcgi", false, func(l net.Listener, h http.Handler) func() {
		s := &fcgi.Server{Handler: h}
		go s.Serve(l)
		return func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s.Shutdown(ctx)
		}
	}},
	{"net-http-fcgi", false, func(l net.Listener, h http.Handler) func() {
		go stdfcgi.Serve(l, h)
		return func() { l.Close() }
	}},
	{"net-http", true, func(l net.Listener, h http.Handler) func() {
		s := &http.Server{Handler: h}
		go s.Serve(l)
		return func() { s.Close() }
	}},
}

// startBench listens on loopback and starts srv there.
func startBench(b *testing.B, srv benchServer) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	stop := srv.serve(l, helloHandler)
	b.Cleanup(stop)
	return l.Addr().String()
}

// checkHello fails b unless the answer in out is the hello world.
func checkHello(b *testing.B, out *bytes.Buffer) {
	if !bytes.Contains(out.Bytes(), []byte("Content-Type: text/plain")) || !bytes.HasSuffix(out.Bytes(), []byte("\r\n\r\n"+helloBody)) {
		b.Fatalf("answer %q, want a text/plain hello world", out.Bytes())
	}
}

// BenchmarkHelloKeepAlive answers the hello world on one kept-alive
// connection, as nginx does with an upstream keepalive pool: cgiref's
// FastCGI server, net/http/fcgi, and net/http.Server.
func BenchmarkHelloKeepAlive(b *testing.B) {
	fcgiReq := fcgiRequest(nginxParams, true)
	for _, srv := range fcgiBenchServers {
		b.Run(srv.name, func(b *testing.B) {
			addr := startBench(b, srv)
			bc := dialBench(b, addr, bufio.NewReaderSize(nil, 16<<10))
			defer bc.c.Close()
			answer := bc.fcgiAnswer
			req := fcgiReq
			if srv.http {
				answer, req = bc.httpAnswer, []byte(proxyRequest)
			}
			var out bytes.Buffer
			if _, err := answer(req, &out); err != nil {
				b.Fatal(err)
			}
			checkHello(b, &out)
			b.ReportAllocs()
			done := reportCPU(b)
			for b.Loop() {
				if n, err := answer(req, nil); err != nil || n == 0 {
					b.Fatalf("answer of %d bytes: %v", n, err)
				}
			}
			done()
		})
	}
}

// BenchmarkHelloPerConn answers the hello world on a new connection per
// request (nginx without an upstream keepalive pool). The client's dial and
// the server's accept are in every figure; the "tcp-floor" server, which
// answers fixed bytes and closes, shows how much.
func BenchmarkHelloPerConn(b *testing.B) {
	fcgiReq := fcgiRequest(nginxParams, false)
	servers := append([]benchServer{{"tcp-floor", true, serveFixed}}, fcgiBenchServers...)
	for _, srv := range servers {
		b.Run(srv.name, func(b *testing.B) {
			addr := startBench(b, srv)
			br := bufio.NewReaderSize(nil, 16<<10)
			req := fcgiReq
			if srv.http {
				req = []byte(proxyRequestClose)
			}
			once := func(out *bytes.Buffer) {
				bc := dialBench(b, addr, br)
				var n int
				var err error
				if srv.http {
					n, err = bc.httpAnswer(req, out)
				} else {
					n, err = bc.fcgiAnswer(req, out)
				}
				if err == nil {
					err = bc.drain()
				}
				if err != nil || n == 0 {
					b.Fatalf("answer of %d bytes: %v", n, err)
				}
			}
			var out bytes.Buffer
			once(&out)
			checkHello(b, &out)
			b.ReportAllocs()
			done := reportCPU(b)
			for b.Loop() {
				once(nil)
			}
			done()
		})
	}
}

// fixedAnswer is the HTTP answer of serveFixed.
const fixedAnswer = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n" + helloBody

// serveFixed accepts connections and answers each with fixedAnswer once the
// request's first bytes arrive, then closes it: the cost of the connection
// alone.
func serveFixed(l net.Listener, _ http.Handler) func() {
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

// TestBenchClients checks the benchmark's clients against each server once,
// so that a broken client cannot make the benchmarks measure nothing.
func TestBenchClients(t *testing.T) {
	for _, keep := range []bool{true, false} {
		for _, srv := range fcgiBenchServers {
			t.Run(srv.name+"/keepalive="+strconv.FormatBool(keep), func(t *testing.T) {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer srv.serve(l, helloHandler)()
				br := bufio.NewReader(nil)
				bc := dialBench(t, l.Addr().String(), br)
				defer bc.c.Close()
				for i := 0; i < 3; i++ {
					var out bytes.Buffer
					var n int
					if srv.http {
						req := proxyRequest
						if !keep {
							req = proxyRequestClose
						}
						n, err = bc.httpAnswer([]byte(req), &out)
					} else {
						n, err = bc.fcgiAnswer(fcgiRequest(nginxParams, keep), &out)
					}
					if err != nil {
						t.Fatalf("request %d: %v", i, err)
					}
					if !bytes.HasSuffix(out.Bytes(), []byte("\r\n\r\n"+helloBody)) || n < len(helloBody) {
						t.Fatalf("request %d: answer %q (%d bytes)", i, out.Bytes(), n)
					}
					if !keep {
						if err := bc.drain(); err != nil {
							t.Fatalf("after the answer: %v", err)
						}
						break
					}
				}
			})
		}
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
