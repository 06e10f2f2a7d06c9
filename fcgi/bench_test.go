package fcgi

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	stdfcgi "net/http/fcgi"
	"strconv"
	"testing"
)

// benchClient sends prebuilt requests on one keep-alive connection and
// reads the answers, allocating nothing per request.
type benchClient struct {
	conn net.Conn
	rr   *recordReader
}

func newBenchClient(b *testing.B, addr string) *benchClient {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return &benchClient{conn: conn, rr: newRecordReader(bufio.NewReaderSize(conn, 64<<10), nil)}
}

// do sends req and returns the STDOUT bytes of the answer.
func (c *benchClient) do(b *testing.B, req []byte) int {
	if _, err := c.conn.Write(req); err != nil {
		b.Fatal(err)
	}
	n := 0
	for {
		rec, err := c.rr.next()
		if err != nil {
			b.Fatal(err)
		}
		switch rec.typ {
		case typeStdout:
			n += len(rec.content)
		case typeEndRequest:
			return n
		}
	}
}

// benchServers are the implementations compared, on a loopback listener.
var benchServers = []struct {
	name  string
	serve func(l net.Listener, h http.Handler)
}{
	{"cgiref", func(l net.Listener, h http.Handler) {
		(&Server{Handler: h, Logger: discardLogger}).Serve(l)
	}},
	{"net-http-fcgi", func(l net.Listener, h http.Handler) { stdfcgi.Serve(l, h) }},
}

// runBench times req against each server; an answer must have at least
// wantMin bytes of STDOUT, and size is the payload reported as throughput.
func runBench(b *testing.B, h http.Handler, req []byte, wantMin, size int) {
	for _, srv := range benchServers {
		b.Run(srv.name, func(b *testing.B) {
			l := listen(b)
			go srv.serve(l, h)
			defer l.Close()
			c := newBenchClient(b, l.Addr().String())
			if n := c.do(b, req); n < wantMin {
				b.Fatalf("answer of %d bytes, want at least %d", n, wantMin)
			}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for b.Loop() {
				c.do(b, req)
			}
		})
	}
}

// BenchmarkResponse times a whole GET request over loopback, answered with
// a body of each size.
func BenchmarkResponse(b *testing.B) {
	for _, size := range []int{len("Hello world!"), 4 << 10, 1 << 20} {
		payload := bytes.Repeat([]byte("x"), size)
		if size < 100 {
			payload = []byte("Hello world!")
		}
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write(payload)
		})
		req := requestBytes(1, roleResponder, flagKeepConn, benchEnv("GET", 0), nil)
		b.Run(sizeName(size), func(b *testing.B) { runBench(b, h, req, size, size) })
	}
}

// BenchmarkUpload times a whole POST request over loopback whose handler
// reads a 1 MiB body.
func BenchmarkUpload(b *testing.B) {
	body := bytes.Repeat([]byte("u"), 1<<20)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		io.WriteString(w, strconv.FormatInt(n, 10))
	})
	req := requestBytes(1, roleResponder, flagKeepConn, benchEnv("POST", len(body)), body)
	runBench(b, h, req, 1, len(body))
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return "hello"
}

// benchEnv is the environ nginx's stock fastcgi_params give a request.
func benchEnv(method string, n int) pairs {
	cl := ""
	if n > 0 {
		cl = strconv.Itoa(n)
	}
	return pairs{
		{"QUERY_STRING", ""}, {"REQUEST_METHOD", method}, {"CONTENT_TYPE", ""}, {"CONTENT_LENGTH", cl},
		{"SCRIPT_NAME", "/index"}, {"REQUEST_URI", "/index"}, {"DOCUMENT_URI", "/index"},
		{"DOCUMENT_ROOT", "/usr/share/nginx/html"}, {"SERVER_PROTOCOL", "HTTP/1.1"}, {"REQUEST_SCHEME", "http"},
		{"GATEWAY_INTERFACE", "CGI/1.1"}, {"SERVER_SOFTWARE", "nginx/1.22.1"}, {"REMOTE_ADDR", "127.0.0.1"},
		{"REMOTE_PORT", "50000"}, {"SERVER_ADDR", "127.0.0.1"}, {"SERVER_PORT", "80"}, {"SERVER_NAME", "localhost"},
		{"REDIRECT_STATUS", "200"}, {"HTTP_HOST", "localhost"}, {"HTTP_USER_AGENT", "curl/7.88.1"}, {"HTTP_ACCEPT", "*/*"},
	}
}

// BenchmarkParallel times small requests from several connections at once
// (GOMAXPROCS goroutines, each with its own keep-alive connection).
func BenchmarkParallel(b *testing.B) {
	req := requestBytes(1, roleResponder, flagKeepConn, benchEnv("GET", 0), nil)
	for _, srv := range benchServers {
		b.Run(srv.name, func(b *testing.B) {
			l := listen(b)
			go srv.serve(l, hello)
			defer l.Close()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				c := newBenchClient(b, l.Addr().String())
				for pb.Next() {
					if c.do(b, req) == 0 {
						b.Error("empty answer")
						return
					}
				}
			})
		})
	}
}
