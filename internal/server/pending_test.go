package server

import (
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// TestPendingInput drives PendingInput over real loopback connections:
// nothing sent, bytes sent and unread, bytes read, and the peer's end of
// stream.
func TestPendingInput(t *testing.T) {
	if runtime.GOOS == "windows" {
		c1, c2 := net.Pipe()
		defer c1.Close()
		defer c2.Close()
		if !PendingInput(c1) {
			t.Fatal("PendingInput = false where it cannot tell")
		}
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	if PendingInput(server) {
		t.Error("nothing sent: PendingInput = true")
	}
	if _, err := client.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return PendingInput(server) }, "bytes sent: PendingInput stays false")
	if PendingInput(server) != true {
		t.Error("peeking consumed the bytes")
	}
	b := make([]byte, 3)
	if _, err := io.ReadFull(server, b); err != nil || string(b) != "abc" {
		t.Fatalf("read %q, %v after peeking", b, err)
	}
	if PendingInput(server) {
		t.Error("bytes read: PendingInput = true")
	}
	client.(*net.TCPConn).CloseWrite()
	time.Sleep(20 * time.Millisecond) // the end of stream arrives; it must not count either way
	if PendingInput(server) {
		t.Error("end of stream: PendingInput = true")
	}
	if PendingInput(pipeConn{}) != true {
		t.Error("a conn without a file descriptor: PendingInput = false")
	}
}

// pipeConn is a net.Conn without a file descriptor.
type pipeConn struct{ net.Conn }

func waitFor(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal(msg)
}
