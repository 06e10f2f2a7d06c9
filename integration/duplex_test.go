//go:build integration

package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestFastCGIFullDuplex: through nginx with request buffering off, a
// handler that enabled full duplex gets its first flush to the client while
// the client is still uploading a 10 MiB body at 1 MiB/s.
func TestFastCGIFullDuplex(t *testing.T) {
	const size, rate = 10 << 20, 1 << 20 // bytes, bytes per second
	s := startNginx(t)
	addr := strings.TrimPrefix(s.base, "http://")
	conn, err := net.DialTimeout("tcp", addr, startLimit)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	start := time.Now()
	fmt.Fprintf(conn, "POST /fcgi-duplex/duplex HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", addr, size)

	type line struct {
		text string
		at   time.Duration
		err  error
	}
	lines := make(chan line, 4)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			lines <- line{err: err}
			return
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		for {
			text, err := br.ReadString('\n')
			if text != "" {
				lines <- line{text: text, at: time.Since(start)}
			}
			if err != nil {
				if err != io.EOF {
					lines <- line{err: err}
				}
				close(lines)
				return
			}
		}
	}()

	chunk := make([]byte, rate/16)
	for sent := 0; sent < size; sent += len(chunk) {
		if _, err := conn.Write(chunk); err != nil {
			t.Fatalf("uploading at %d bytes: %v", sent, err)
		}
		time.Sleep(time.Second / 16)
	}
	uploaded := time.Since(start)
	var got []line
	for l := range lines {
		if l.err != nil {
			t.Fatalf("reading the answer: %v", l.err)
		}
		got = append(got, l)
	}
	if len(got) != 2 || got[0].text != "first\n" || got[1].text != fmt.Sprintf("got %d <nil>\n", size) {
		t.Fatalf("answer lines %+v", got)
	}
	t.Logf("first line after %v; upload of %d MiB done after %v", got[0].at.Round(time.Millisecond), size>>20, uploaded.Round(time.Millisecond))
	if got[0].at > uploaded-5*time.Second {
		t.Errorf("the first flush arrived after %v, not well before the upload ended at %v", got[0].at, uploaded)
	}
}
