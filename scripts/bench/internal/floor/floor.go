// Package floor is the gofloor benchmark backend: a FastCGI responder that
// answers every request with fixed bytes (and closes the connection unless
// the web server keeps it), to measure what a request costs a Go program
// before any work on it.
package floor

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// The FastCGI record types the floor reads and writes.
const (
	typeBeginRequest = 1
	typeEndRequest   = 3
	typeStdin        = 5
	typeStdout       = 6

	flagKeepConn = 1 // FCGI_KEEP_CONN, in BEGIN_REQUEST's flags
)

// Answer is the hello-world handler's answer as a CGI response: what
// cgireffcgi sends for it.
const Answer = "Status: 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello world!\n"

// readTimeout bounds the wait for a request's records.
const readTimeout = 10 * time.Second

// Serve answers each connection of l in its own goroutine until l fails.
// The handler is not used: the answer is fixed.
func Serve(l net.Listener, _ http.Handler) error {
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			serveConn(c) // errors only end the connection
		}()
	}
}

// serveConn reads a request's records up to its empty FCGI_STDIN record and
// writes the fixed answer for its id; it goes on with the next request when
// the web server asked to keep the connection (FCGI_KEEP_CONN), as nginx's
// fastcgi_keep_conn does.
func serveConn(c net.Conn) error {
	r := bufio.NewReaderSize(c, 4096)
	var hdr [8]byte
	var id uint16
	keep := false
	for {
		if r.Buffered() == 0 {
			c.SetReadDeadline(time.Now().Add(readTimeout))
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return fmt.Errorf("floor: record header: %w", err)
		}
		if hdr[0] != 1 {
			return errors.New("floor: not a FastCGI version 1 record")
		}
		typ, length := hdr[1], int(binary.BigEndian.Uint16(hdr[4:]))
		if typ == typeBeginRequest && length >= 3 {
			id = binary.BigEndian.Uint16(hdr[2:])
			flags, err := r.Peek(3)
			if err != nil {
				return fmt.Errorf("floor: BEGIN_REQUEST: %w", err)
			}
			keep = flags[2]&flagKeepConn != 0
		}
		if _, err := r.Discard(length + int(hdr[6])); err != nil {
			return fmt.Errorf("floor: record content: %w", err)
		}
		if typ != typeStdin || length != 0 {
			continue
		}
		a := answerOne // nginx's id
		if id != 1 {
			a = answer(id)
		}
		if _, err := c.Write(a); err != nil || !keep {
			return err
		}
	}
}

var answerOne = answer(1)

// answer is Answer as FCGI_STDOUT, the stream's end and END_REQUEST for id.
func answer(id uint16) []byte {
	var b []byte
	b = appendRecord(b, typeStdout, id, []byte(Answer))
	b = appendRecord(b, typeStdout, id, nil)
	return appendRecord(b, typeEndRequest, id, make([]byte, 8)) // app status 0, FCGI_REQUEST_COMPLETE
}

// appendRecord appends a record of typ for id, padded to 8 bytes.
func appendRecord(b []byte, typ byte, id uint16, content []byte) []byte {
	pad := -len(content) & 7
	b = append(b, 1, typ, byte(id>>8), byte(id), byte(len(content)>>8), byte(len(content)), byte(pad), 0)
	b = append(b, content...)
	return append(b, make([]byte, pad)...)
}
