package scgi

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// recordings returns the requests recorded from real web servers in
// testdata/scgi (see testdata/scgi/record.sh).
func recordings(tb testing.TB) map[string][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("..", "testdata", "scgi", "*.scgi"))
	if err != nil {
		tb.Fatal(err)
	}
	out := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

func FuzzParseHeader(f *testing.F) {
	for _, b := range recordings(f) {
		f.Add(b)
	}
	f.Add([]byte(netstring("CONTENT_LENGTH", "0", "SCGI", "1")))
	f.Add([]byte(netstring("CONTENT_LENGTH", "3", "SCGI", "1", "REQUEST_METHOD", "POST") + "abc"))
	f.Add([]byte("0:,"))
	f.Add([]byte("GET / HTTP/1.0\r\n\r\n"))
	const limit = 4096
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(bytes.NewReader(data))
		req, err := readHeader(br, limit)
		if err != nil {
			if !isHeaderError(err) && err != io.EOF && err != io.ErrUnexpectedEOF {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		// The netstring was consumed exactly: digits, ':', block, ','.
		colon := bytes.IndexByte(data, ':')
		size, perr := strconv.Atoi(string(data[:colon]))
		if perr != nil || size > limit {
			t.Fatalf("accepted length %q", data[:colon])
		}
		body, _ := io.ReadAll(br)
		if !bytes.Equal(body, data[colon+1+size+1:]) {
			t.Fatalf("body %q, want %q", body, data[colon+1+size+1:])
		}
		if req.pairs.Environ()["SCGI"] != "1" {
			t.Fatalf("SCGI = %q", req.pairs.Environ()["SCGI"])
		}
		cl, err := strconv.ParseInt(req.pairs.Environ()["CONTENT_LENGTH"], 10, 64)
		if err != nil || cl != req.contentLength {
			t.Fatalf("CONTENT_LENGTH %q, contentLength %d", req.pairs.Environ()["CONTENT_LENGTH"], req.contentLength)
		}
		// Encoding the pairs again gives a block of the same size, and every
		// pair is in it (the pairs as sent: a repeated HTTP_* field is two
		// pairs, one variable of the environ).
		n := 0
		for _, p := range req.pairs {
			k, v := p.Name, p.Value
			n += len(k) + len(v) + 2
			if !bytes.Contains(data, []byte("\x00"+k+"\x00"+v+"\x00")) &&
				!bytes.HasPrefix(data[colon+1:], []byte(k+"\x00"+v+"\x00")) {
				t.Fatalf("pair %q=%q not in the input", k, v)
			}
		}
		if n != size {
			t.Fatalf("pairs make %d bytes, block has %d", n, size)
		}
	})
}
