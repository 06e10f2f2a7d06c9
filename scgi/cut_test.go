package scgi

import (
	"io"
	"net/http"
	"testing"
)

// TestCutAnswerBodilessKeepsServing: a bodiless request (its watcher reads
// the connection) whose answer is cut after it began makes the server reset
// that connection, and only that one: the server goes on serving. The
// watcher must be done with the connection's reader before the reader goes
// back to its pool (otherwise the process dies of a nil pointer in
// bufio.Reader.WriteTo, as seen behind nginx and lighttpd; with -race, a
// data race on the reader).
func TestCutAnswerBodilessKeepsServing(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			io.WriteString(w, "ok")
			return
		}
		io.WriteString(w, "first\n")
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	})
	_, addr := startServer(t, h, nil)
	for range 50 {
		c := dial(t, "tcp", addr)
		if _, err := c.Write(scgiRequest("GET", "/cut", nil)); err != nil {
			t.Fatal(err)
		}
		io.ReadAll(c) // the answer begins, then a reset
		c.Close()
	}
	out := roundTrip(t, "tcp", addr, scgiRequest("GET", "/ok", nil))
	if len(out) == 0 {
		t.Fatal("no answer after the cut ones")
	}
}
