package fcgi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/cgiref/cgiref/environ"
)

func TestAppendRecordPadding(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 100, maxWrite - 1, maxWrite, maxWrite + 1, 3*maxWrite + 5} {
		content := bytes.Repeat([]byte{'x'}, n)
		b := appendRecord(nil, typeStdout, 513, content)
		rr := newRecordReader(bytes.NewReader(b), nil)
		var got []byte
		records := 0
		for {
			rec, err := rr.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("n=%d: %v", n, err)
			}
			records++
			if rec.typ != typeStdout || rec.id != 513 || len(rec.content) > maxWrite {
				t.Fatalf("n=%d: record %v id %d of %d bytes", n, rec.typ, rec.id, len(rec.content))
			}
			got = append(got, rec.content...)
		}
		if !bytes.Equal(got, content) {
			t.Errorf("n=%d: content of %d bytes back", n, len(got))
		}
		if len(b)%8 != 0 {
			t.Errorf("n=%d: %d bytes written, not a multiple of 8", n, len(b))
		}
		if want := max(1, (n+maxWrite-1)/maxWrite); records != want {
			t.Errorf("n=%d: %d records, want %d", n, records, want)
		}
	}
}

func TestRecordWriters(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"BEGIN_REQUEST", appendBeginRequest(nil, 0x0102, roleFilter, flagKeepConn),
			[]byte{1, 1, 1, 2, 0, 8, 0, 0, 0, 3, 1, 0, 0, 0, 0, 0}},
		{"END_REQUEST", appendEndRequest(nil, 7, 0x01020304, statusOverloaded),
			[]byte{1, 3, 0, 7, 0, 8, 0, 0, 1, 2, 3, 4, 2, 0, 0, 0}},
		{"UNKNOWN_TYPE", appendUnknownType(nil, 42),
			[]byte{1, 11, 0, 0, 0, 8, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0}},
		{"empty STDOUT", appendRecord(nil, typeStdout, 1, nil),
			[]byte{1, 6, 0, 1, 0, 0, 0, 0}},
		{"padded STDERR", appendRecord(nil, typeStderr, 1, []byte("abc")),
			[]byte{1, 7, 0, 1, 0, 3, 5, 0, 'a', 'b', 'c', 0, 0, 0, 0, 0}},
		{"short pair", appendPair(nil, "AB", "c"), []byte{2, 1, 'A', 'B', 'c'}},
		{"long value", appendPair(nil, "N", strings.Repeat("v", 200))[:6], []byte{1, 0x80, 0, 0, 200, 'N'}},
		{"127 bytes", appendPair(nil, strings.Repeat("n", 127), "")[:2], []byte{127, 0}},
		{"128 bytes", appendPair(nil, strings.Repeat("n", 128), "")[:5], []byte{0x80, 0, 0, 128, 0}},
	}
	for _, tt := range tests {
		if !bytes.Equal(tt.got, tt.want) {
			t.Errorf("%s: % x, want % x", tt.name, tt.got, tt.want)
		}
	}
}

func TestRecordReaderErrors(t *testing.T) {
	begin := appendBeginRequest(nil, 1, roleResponder, 0)
	tests := []struct {
		name  string
		input []byte
		want  error // nil: errMalformed
	}{
		{"empty", nil, io.EOF},
		{"half header", begin[:4], nil},
		{"no content", begin[:8], nil},
		{"half content", begin[:12], nil},
		{"missing padding", appendRecord(nil, typeStdin, 1, []byte("abc"))[:12], nil},
		{"version 0", append([]byte{0}, begin[1:]...), nil},
		{"version 2", append([]byte{2}, begin[1:]...), nil},
	}
	for _, tt := range tests {
		rr := newRecordReader(bytes.NewReader(tt.input), nil)
		_, err := rr.next()
		want := tt.want
		if want == nil {
			want = errMalformed
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", tt.name, err, want)
		}
	}
	rr := newRecordReader(iotest.ErrReader(os.ErrDeadlineExceeded), nil)
	if _, err := rr.next(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read error: %v", err)
	}
}

// TestRecordReaderOneByte reads records delivered one byte at a time, with
// the maximum content and padding.
func TestRecordReaderOneByte(t *testing.T) {
	content := bytes.Repeat([]byte{'q'}, maxContent)
	b := []byte{1, byte(typeStdin), 0, 9, 0xff, 0xff, 255, 0}
	b = append(b, content...)
	b = append(b, make([]byte, 255)...)
	b = appendEndRequest(b, 9, 0, 0)
	rr := newRecordReader(iotest.OneByteReader(bytes.NewReader(b)), nil)
	rec, err := rr.next()
	if err != nil || !bytes.Equal(rec.content, content) || rec.id != 9 {
		t.Fatalf("first record: %v, %d bytes, id %d", err, len(rec.content), rec.id)
	}
	rec, err = rr.next()
	if err != nil || rec.typ != typeEndRequest {
		t.Fatalf("second record: %v %v", rec.typ, err)
	}
}

func TestParseBodies(t *testing.T) {
	if _, err := parseBeginRequest(make([]byte, 7)); !errors.Is(err, errMalformed) {
		t.Errorf("BEGIN_REQUEST of 7 bytes: %v", err)
	}
	br, err := parseBeginRequest(appendBeginRequest(nil, 1, roleAuthorizer, flagKeepConn)[headerLen:])
	if err != nil || br != (beginRequest{roleAuthorizer, flagKeepConn}) {
		t.Errorf("BEGIN_REQUEST: %+v %v", br, err)
	}
	if _, err := parseEndRequest(nil); !errors.Is(err, errMalformed) {
		t.Errorf("empty END_REQUEST: %v", err)
	}
}

func TestDecodeParams(t *testing.T) {
	long := strings.Repeat("L", 300)
	tests := []struct {
		name  string
		input []byte
		want  map[string]string
		bad   bool
	}{
		{"empty", nil, map[string]string{}, false},
		{"pairs", pairs{{"A", "1"}, {"EMPTY", ""}, {long, long}}.encode(), map[string]string{"A": "1", "EMPTY": "", long: long}, false},
		{"repeated field joined", pairs{{"HTTP_X", "1"}, {"A", "1"}, {"HTTP_X", "2"}}.encode(), map[string]string{"HTTP_X": "1, 2", "A": "1"}, false},
		// nginx: `include fastcgi_params; fastcgi_param SCRIPT_NAME /app;`
		{"meta-variable overridden", pairs{{"SCRIPT_NAME", "/stock"}, {"A", "1"}, {"SCRIPT_NAME", "/app"}}.encode(), map[string]string{"SCRIPT_NAME": "/app", "A": "1"}, false},
		{"repeated cookie joined", pairs{{"HTTP_COOKIE", "a=1"}, {"HTTP_COOKIE", "b=2"}}.encode(), map[string]string{"HTTP_COOKIE": "a=1; b=2"}, false},
		{"binary bytes kept", pairs{{"X", "\x00\xff\r\n"}}.encode(), map[string]string{"X": "\x00\xff\r\n"}, false},
		{"name length only", []byte{3}, nil, true},
		{"short 4-byte length", []byte{0x80, 0, 0}, nil, true},
		{"value runs past", []byte{1, 5, 'A', 'b'}, nil, true},
		{"huge length", []byte{0xff, 0xff, 0xff, 0xff, 0}, nil, true},
		{"trailing byte", append(pairs{{"A", "1"}}.encode(), 1), nil, true},
	}
	for _, tt := range tests {
		env, err := decodeParams(tt.input)
		if tt.bad {
			if !errors.Is(err, errMalformed) {
				t.Errorf("%s: err %v, want errMalformed", tt.name, err)
			}
			continue
		}
		if err != nil || len(env) != len(tt.want) {
			t.Errorf("%s: %v %v", tt.name, env, err)
			continue
		}
		for k, v := range tt.want {
			if env[k] != v {
				t.Errorf("%s: %s = %q, want %q", tt.name, k, env[k], v)
			}
		}
	}
}

// recordings are the request streams recorded from real web servers (see
// testdata/fcgi/README.md).
func recordings(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "testdata", "fcgi", "*.fcgi"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded streams in testdata/fcgi: %v", err)
	}
	m := make(map[string][]byte)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m[filepath.Base(f)] = b
	}
	return m
}

// recordedRequest is one request of a recorded stream.
type recordedRequest struct {
	id       uint16
	role     uint16
	keepConn bool
	env      map[string]string
	stdin    []byte
}

// parseStream decodes a stream from a web server into its requests.
func parseStream(b []byte) ([]*recordedRequest, error) {
	rr := newRecordReader(bytes.NewReader(b), nil)
	var reqs []*recordedRequest
	cur := map[uint16]*recordedRequest{}
	params := map[uint16][]byte{}
	for {
		rec, err := rr.next()
		if err == io.EOF {
			return reqs, nil
		}
		if err != nil {
			return nil, err
		}
		switch rec.typ {
		case typeBeginRequest:
			br, err := parseBeginRequest(rec.content)
			if err != nil {
				return nil, err
			}
			r := &recordedRequest{id: rec.id, role: br.role, keepConn: br.flags&flagKeepConn != 0}
			cur[rec.id] = r
			reqs = append(reqs, r)
		case typeParams:
			if len(rec.content) > 0 {
				params[rec.id] = append(params[rec.id], rec.content...)
				continue
			}
			env, err := decodeParams(params[rec.id])
			if err != nil {
				return nil, err
			}
			delete(params, rec.id)
			if r := cur[rec.id]; r != nil {
				r.env = env
			}
		case typeStdin:
			if r := cur[rec.id]; r != nil {
				r.stdin = append(r.stdin, rec.content...)
			}
		}
	}
}

func TestRecordings(t *testing.T) {
	for name, b := range recordings(t) {
		reqs, err := parseStream(b)
		if err != nil || len(reqs) == 0 {
			t.Errorf("%s: %d requests, %v", name, len(reqs), err)
			continue
		}
		for _, r := range reqs {
			if r.role != roleResponder || r.env["REQUEST_METHOD"] == "" || r.env["SERVER_PROTOCOL"] == "" {
				t.Errorf("%s: request %d: role %d, environ %v", name, r.id, r.role, r.env)
			}
		}
	}
}

// splitRequests cuts a recorded stream at each BEGIN_REQUEST.
func splitRequests(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var parts [][]byte
	start, off := 0, 0
	for off < len(b) {
		if off+headerLen > len(b) {
			t.Fatal("truncated recording")
		}
		if recType(b[off+1]) == typeBeginRequest && off > start {
			parts = append(parts, b[start:off])
			start = off
		}
		off += headerLen + (int(b[off+4])<<8 | int(b[off+5])) + int(b[off+6])
	}
	return append(parts, b[start:])
}

// TestReplayRecordings serves the recorded streams request by request, as
// the web servers sent them, and checks what the handler saw.
func TestReplayRecordings(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %d %v", r.Method, r.RequestURI, len(body), err)
	})
	addr := startServer(t, &Server{Handler: h})
	for name, b := range recordings(t) {
		reqs, err := parseStream(b)
		if err != nil {
			t.Fatal(err)
		}
		c := dial(t, addr)
		for i, part := range splitRequests(t, b) {
			r := reqs[i]
			if i > 0 && !reqs[i-1].keepConn {
				c = dial(t, addr)
			}
			c.mustSend(part)
			got := c.results(r.id)[r.id]
			want := fmt.Sprintf("%s %s %d <nil>", r.env["REQUEST_METHOD"], r.env["REQUEST_URI"], len(r.stdin))
			if got.body() != want || got.ends != 1 || got.end.appStatus != 0 {
				t.Errorf("%s request %d: %q %+v, want %q", name, i, got.body(), got.end, want)
			}
			if !r.keepConn {
				c.expectClosed()
			}
		}
	}
}

// TestRecordReaderNoAllocs checks that reading records allocates nothing in
// the steady state.
func TestRecordReaderNoAllocs(t *testing.T) {
	stream := requestBytes(1, roleResponder, flagKeepConn, getEnv("/"), bytes.Repeat([]byte("b"), 100000))
	src := bytes.NewReader(stream)
	br := bufio.NewReaderSize(src, 16<<10)
	// As a connection reads them, but with a buffer of its own for large
	// records: the race detector makes sync.Pool drop what is put back.
	rr := newRecordReader(br, make([]byte, maxContent+maxPadding))
	allocs := testing.AllocsPerRun(100, func() {
		src.Reset(stream)
		br.Reset(src)
		for {
			if _, err := rr.next(); err != nil {
				break
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per stream", allocs)
	}
	dst := make([]byte, 0, outBufSize)
	content := make([]byte, 1000)
	if a := testing.AllocsPerRun(100, func() { dst = appendRecord(dst[:0], typeStdout, 1, content) }); a != 0 {
		t.Errorf("appendRecord: %v allocations", a)
	}
}

// decodeParams decodes a PARAMS stream into the environ its pairs stand for.
func decodeParams(block []byte) (environ.Environ, error) {
	pairs, err := decodePairs(string(block), nil)
	if err != nil {
		return nil, err
	}
	return pairs.Environ(), nil
}

// TestSparePairs: a request gives its slice of pairs back to its connection
// cleared, unless it is over maxSparePairs; decoding into the spare slice
// costs no allocation.
func TestSparePairs(t *testing.T) {
	c := &conn{}
	if b := c.takePairs(); b == nil || b.pairs != nil {
		t.Fatalf("takePairs with no spare = %+v, want a new empty one", b)
	}
	small := &request{c: c, pairBuf: &pairsBuf{pairs: make(environ.Pairs, 20)}}
	small.pairBuf.pairs[0] = environ.Pair{Name: "A", Value: "b"}
	small.givePairs()
	b := c.sparePairs.Load()
	if b == nil || len(b.pairs) != 0 || cap(b.pairs) != 20 || b.pairs[:1][0] != (environ.Pair{}) {
		t.Fatalf("spare after givePairs = %+v, want the request's slice, empty and cleared", b)
	}
	if small.pairBuf != nil || small.vars() == nil {
		t.Errorf("the request still holds its slice")
	}
	small.givePairs() // a second call does nothing
	if got := c.takePairs(); got != b || c.sparePairs.Load() != nil {
		t.Errorf("takePairs did not hand out the spare once")
	}

	params := string(pairs{{"REQUEST_METHOD", "GET"}, {"CONTENT_LENGTH", "-1"}, {"HTTP_HOST", "h"}}.encode())
	dst := make(environ.Pairs, 0, 8)
	if a := testing.AllocsPerRun(100, func() { dst, _ = paramsPairs(params, dst[:0]) }); a != 0 {
		t.Errorf("decoding into the spare slice: %v allocations", a)
	}
	if want := (environ.Pairs{{Name: "REQUEST_METHOD", Value: "GET"}, {Name: "HTTP_HOST", Value: "h"}}); !slices.Equal(dst, want) {
		t.Errorf("paramsPairs = %v, want %v (CONTENT_LENGTH -1 dropped)", dst, want)
	}

	big := &request{c: c, pairBuf: &pairsBuf{pairs: make(environ.Pairs, maxSparePairs+1)}}
	big.givePairs()
	if b := c.sparePairs.Load(); b != nil {
		t.Errorf("the connection kept a slice of %d pairs, over maxSparePairs", cap(b.pairs))
	}
}
