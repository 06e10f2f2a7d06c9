// Command recorder records SCGI requests as a web server sends them: it
// listens on an address, writes the bytes of each request (header netstring
// and body) to a file named PREFIX-METHOD.scgi in the output folder, answers
// a fixed CGI response and closes the connection. It also reports whether
// the web server half-closed its side after the request, which matters to a
// backend that watches the connection for a client that went away.
//
// record.sh runs it for each web server; see there.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:0", "address to listen on")
	prefix := flag.String("prefix", "server", "file name prefix (the web server's name)")
	dir := flag.String("dir", ".", "output folder")
	count := flag.Int("n", 2, "requests to record before exiting")
	ready := flag.String("ready", "", "file to write the listening address into")
	limit := flag.Duration("timeout", 30*time.Second, "exit with an error after this long")
	flag.Parse()
	time.AfterFunc(*limit, func() { log.Fatalf("%s: timed out after %v", *prefix, *limit) })

	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	if *ready != "" {
		if err := os.WriteFile(*ready, []byte(l.Addr().String()), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	for i := 0; i < *count; i++ {
		c, err := l.Accept()
		if err != nil {
			log.Fatal(err)
		}
		if err := record(c, *dir, *prefix); err != nil {
			log.Print(err)
		}
	}
}

// record reads one request from c, saves it and answers it.
func record(c net.Conn, dir, prefix string) error {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var raw bytes.Buffer
	br := bufio.NewReader(io.TeeReader(c, &raw))
	lenText, err := br.ReadString(':')
	if err != nil {
		return fmt.Errorf("read length: %w", err)
	}
	size, err := strconv.Atoi(strings.TrimSuffix(lenText, ":"))
	if err != nil {
		return fmt.Errorf("bad length %q", lenText)
	}
	block := make([]byte, size+1)
	if _, err := io.ReadFull(br, block); err != nil {
		return fmt.Errorf("read header: %w", err)
	}
	fields := strings.Split(string(block[:size]), "\x00")
	env := map[string]string{}
	for i := 0; i+1 < len(fields); i += 2 {
		env[fields[i]] = fields[i+1]
	}
	cl, _ := strconv.Atoi(env["CONTENT_LENGTH"])
	if _, err := io.CopyN(io.Discard, br, int64(cl)); err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	// Half-close check: does the web server end its side before the answer?
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	var one [1]byte
	_, err = br.Read(one[:])
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		log.Printf("%s %s: no half-close after the request", prefix, env["REQUEST_METHOD"])
	case err == io.EOF:
		log.Printf("%s %s: HALF-CLOSE after the request", prefix, env["REQUEST_METHOD"])
	default:
		log.Printf("%s %s: extra read: %v", prefix, env["REQUEST_METHOD"], err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	// The recorded bytes are the request alone, even if more came.
	data := raw.Bytes()[:len(lenText)+size+1+cl]
	name := filepath.Join(dir, prefix+"-"+strings.ToLower(env["REQUEST_METHOD"])+".scgi")
	if err := os.WriteFile(name, data, 0o644); err != nil {
		return err
	}
	log.Printf("wrote %s (%d bytes)", name, len(data))
	_, err = io.WriteString(c, "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nrecorded\n")
	return err
}
