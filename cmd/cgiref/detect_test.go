package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fcgiRecord appends a FastCGI record of type typ for request 1.
func fcgiRecord(b []byte, typ byte, content []byte) []byte {
	b = append(b, 1, typ, 0, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(content)))
	b = append(b, 0, 0)
	return append(b, content...)
}

// fcgiParams encodes name-value pairs with one-byte lengths.
func fcgiParams(kv ...string) []byte {
	var b []byte
	for i := 0; i < len(kv); i += 2 {
		b = append(b, byte(len(kv[i])), byte(len(kv[i+1])))
		b = append(b, kv[i]+kv[i+1]...)
	}
	return b
}

// fcgiGet sends one responder request over c and returns its STDOUT.
func fcgiGet(t *testing.T, c net.Conn, params []byte) string {
	t.Helper()
	var req []byte
	req = fcgiRecord(req, 1, []byte{0, 1, 0, 0, 0, 0, 0, 0}) // BEGIN_REQUEST, responder
	req = fcgiRecord(req, 4, params)
	req = fcgiRecord(req, 4, nil)
	req = fcgiRecord(req, 5, nil)
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var stdout bytes.Buffer
	for range 10000 {
		var h [8]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatalf("reading a record: %v (stdout so far %q)", err, stdout.String())
		}
		body := make([]byte, int(binary.BigEndian.Uint16(h[4:6]))+int(h[6]))
		if _, err := io.ReadFull(br, body); err != nil {
			t.Fatal(err)
		}
		switch h[1] {
		case 6: // STDOUT
			stdout.Write(body[:binary.BigEndian.Uint16(h[4:6])])
		case 3: // END_REQUEST
			return stdout.String()
		}
	}
	t.Fatal("no END_REQUEST")
	return ""
}

// TestCommandFastCGIOnStdin runs the command without a subcommand and with a
// listening socket as standard input, as a web server that spawns FastCGI
// processes does: it must answer FastCGI there.
func TestCommandFastCGIOnStdin(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows passes no socket as standard input")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := command(t, ctx, nil, "-app", "check")
	cmd.Stdin = f
	var errs bytes.Buffer
	cmd.Stderr = &errs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()

	c, err := net.DialTimeout("tcp", l.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	out := fcgiGet(t, c, fcgiParams(
		"REQUEST_METHOD", "GET", "SERVER_NAME", "localhost", "SERVER_PORT", "80",
		"SERVER_PROTOCOL", "HTTP/1.1", "SCRIPT_NAME", "", "PATH_INFO", "/status/404",
		"QUERY_STRING", "", "REQUEST_URI", "/status/404"))
	if !strings.HasPrefix(out, "Status: 404 Not Found\r\n") || !strings.HasSuffix(out, "\r\n\r\nstatus 404\n") {
		t.Errorf("FastCGI stdout %q, stderr %q", out, errs.String())
	}
}
