package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzFilesPath checks that no path, however encoded, serves a file outside
// the folder.
func FuzzFilesPath(f *testing.F) {
	for _, p := range []string{"/a.txt", "/../secret.txt", "/..\\secret.txt", "/dir-out/secret.txt",
		"/link-out", "//secret.txt", "/sub/../../secret.txt", "/./../secret.txt", "/sub/"} {
		f.Add(p)
	}
	dir, _ := filesTree(f)
	a, err := newFilesApp(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { a.Close() })
	f.Fuzz(func(t *testing.T, p string) {
		rec := httptest.NewRecorder()
		a.serve(rec, httptest.NewRequest("GET", "/", nil), p)
		if strings.Contains(rec.Body.String(), "secret") {
			t.Fatalf("path %q served the secret", p)
		}
	})
}

// FuzzCGIAnswer feeds readCGIAnswer, the parser of an SCGI backend's answer
// in cgiref call, whatever a backend may send: it never panics, and an
// answer it takes has a valid status, no Status field, a body that is the
// end of the input, and prints as "Status: CODE ...".
func FuzzCGIAnswer(f *testing.F) {
	for _, s := range []string{
		"Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nHello",
		"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno\n",
		"Location: /x\r\n\r\n",
		"Status: 99\r\n\r\n",
		"Status: 2000 x\r\n\r\n",
		"Content-Type: text/plain\n\nbare LF",
		"HTTP/",
		"Status: 204 No Content\r\nContent-Length: 9\r\n\r\n",
		"X: a\r\n folded\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := readCGIAnswer(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			if a != nil {
				t.Fatalf("answer %+v with error %v", a, err)
			}
			return
		}
		if a.status < 100 || a.status > 999 {
			t.Fatalf("status %d", a.status)
		}
		if _, ok := a.header["Status"]; ok {
			t.Fatalf("a Status field is left: %v", a.header)
		}
		if !bytes.HasSuffix(data, a.body) {
			t.Fatalf("body %q is not the end of the input", a.body)
		}
		_ = a.checkLength()
		var out bytes.Buffer
		a.print(&out)
		if want := fmt.Sprintf("Status: %d ", a.status); !strings.HasPrefix(out.String(), want) {
			t.Fatalf("printed %q, want it to start with %q", out.String(), want)
		}
	})
}

// FuzzFCGIAnswer serves whatever bytes a FastCGI responder may send to
// callFCGI (gofast's record parser, then the answer's): it never panics or
// hangs, and an answer it takes has a valid status.
func FuzzFCGIAnswer(f *testing.F) {
	rec := func(typ byte, content string) string {
		n := len(content)
		return string([]byte{1, typ, 0, 1, byte(n >> 8), byte(n), 0, 0}) + content
	}
	end := rec(3, "\x00\x00\x00\x00\x00\x00\x00\x00")
	f.Add([]byte(rec(6, "Status: 200 OK\r\nContent-Length: 2\r\n\r\nok") + rec(6, "") + end))
	f.Add([]byte(rec(6, "Content-Type: text/plain\r\n\r\n") + rec(7, "oops\n") + end))
	f.Add([]byte(rec(6, "Status: 200 OK\r\n")))
	f.Add([]byte(end))
	f.Add([]byte("\x01\x06\x00\x01\xff\xff\x00\x00"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { ln.Close() })
	answers := make(chan []byte)
	go func() {
		for data := range answers {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				c.Write(data)
				c.(*net.TCPConn).CloseWrite()
				io.Copy(io.Discard, c) // the request, until the client closes
			}()
		}
	}()
	f.Cleanup(func() { close(answers) })
	env := map[string]string{"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/", "SERVER_PROTOCOL": "HTTP/1.1"}
	f.Fuzz(func(t *testing.T, data []byte) {
		answers <- data
		a, err := callFCGI(ln.Addr().String(), env, nil, time.Second, io.Discard)
		if err != nil {
			return
		}
		if a.status < 100 || a.status > 999 {
			t.Fatalf("status %d", a.status)
		}
		_ = a.checkLength()
		a.print(io.Discard)
	})
}
