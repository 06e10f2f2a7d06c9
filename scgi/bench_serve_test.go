package scgi

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

// BenchmarkServe measures one hello-world request per connection over
// loopback: the SCGI server against net/http's server answering an HTTP/1.0
// request (which also closes the connection after the answer).
func BenchmarkServe(b *testing.B) {
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "Hello world!\n")
	})
	b.Run("scgi", func(b *testing.B) {
		l := benchListener(b)
		s := &Server{Handler: hello, Logger: slog.New(slog.DiscardHandler)}
		go s.Serve(l)
		defer shutdown(b, s)
		benchRequests(b, l.Addr().String(), []byte(benchSCGI))
	})
	b.Run("net-http", func(b *testing.B) {
		l := benchListener(b)
		s := &http.Server{Handler: hello}
		go s.Serve(l)
		defer s.Close()
		benchRequests(b, l.Addr().String(), []byte("GET /app/path?x=1&y=2 HTTP/1.0\r\nHost: localhost\r\nUser-Agent: bench\r\n\r\n"))
	})
}

func benchListener(b *testing.B) net.Listener {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// benchRequests sends req on a new connection per iteration and reads the
// answer to the connection's end.
func benchRequests(b *testing.B, addr string, req []byte) {
	b.ReportAllocs()
	buf := make([]byte, 4096)
	for b.Loop() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(testTimeout))
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			m, err := c.Read(buf)
			n += m
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		c.Close()
		if n == 0 {
			b.Fatal("empty answer")
		}
	}
}

// shutdown stops s, waiting at most testTimeout.
func shutdown(b *testing.B, s *Server) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		b.Error(err)
	}
}
