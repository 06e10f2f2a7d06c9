package fcgi

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/cgiref/cgiref/internal/wine"
)

// TestBigEchoWholeBodyFirst: a web server that sends a 10 MiB body whole
// before it reads the answer (nginx with request buffering) gets the whole
// echo.
func TestBigEchoWholeBodyFirst(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 10<<20/16)
	for _, keep := range []uint8{0, flagKeepConn} {
		c := dial(t, startServer(t, &Server{Handler: echo, TempDir: wine.TempDir(t)}))
		sent := make(chan error, 1)
		go func() {
			_, err := c.conn.Write(requestBytes(1, roleResponder, keep, postEnv("/", len(body)), body))
			sent <- err
		}()
		r := c.results(1)[1]
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
		if got := r.body(); sha256.Sum256([]byte(got)) != sha256.Sum256(body) {
			t.Fatalf("keep %d: echo of %d bytes came back as %d bytes", keep, len(body), len(got))
		}
	}
}
