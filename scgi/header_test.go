package scgi

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"testing"

	"github.com/cgiref/cgiref/environ"
)

// netstring returns the SCGI encoding of pairs (name, value, name, value, ...).
func netstring(pairs ...string) string {
	var b strings.Builder
	for _, p := range pairs {
		b.WriteString(p)
		b.WriteByte(0)
	}
	return fmt.Sprintf("%d:%s,", b.Len(), b.String())
}

// block returns the netstring of a raw header block.
func block(b string) string { return fmt.Sprintf("%d:%s,", len(b), b) }

func TestReadHeader(t *testing.T) {
	minimal := netstring("CONTENT_LENGTH", "0", "SCGI", "1")
	tests := []struct {
		name    string
		in      string
		limit   int
		env     environ.Environ
		length  int64
		err     error // a sentinel; nil: success
		wantEOF bool  // err is io.EOF or io.ErrUnexpectedEOF
	}{
		{name: "minimal", in: minimal, env: environ.Environ{"CONTENT_LENGTH": "0", "SCGI": "1"}},
		{
			name: "spec example",
			in: "70:CONTENT_LENGTH\x0027\x00SCGI\x001\x00REQUEST_METHOD\x00POST\x00" +
				"REQUEST_URI\x00/deepthought\x00,",
			env: environ.Environ{
				"CONTENT_LENGTH": "27", "SCGI": "1",
				"REQUEST_METHOD": "POST", "REQUEST_URI": "/deepthought",
			},
			length: 27,
		},
		{
			name:   "empty values and binary bytes",
			in:     netstring("CONTENT_LENGTH", "5", "HTTP_X", "", "SCGI", "1", "QUERY_STRING", "a\xff\x01b"),
			env:    environ.Environ{"CONTENT_LENGTH": "5", "HTTP_X": "", "SCGI": "1", "QUERY_STRING": "a\xff\x01b"},
			length: 5,
		},
		{
			name:   "CONTENT_LENGTH with leading zeros",
			in:     netstring("CONTENT_LENGTH", "007", "SCGI", "1"),
			env:    environ.Environ{"CONTENT_LENGTH": "007", "SCGI": "1"},
			length: 7,
		},
		{name: "leading zero in length", in: "0" + minimal, err: errLeadingZero},
		{name: "length 0 then digits", in: "01:x,", err: errLeadingZero},
		{name: "empty netstring", in: "0:,", err: errNoLength},
		{name: "no digits", in: ":" + minimal[3:], err: errNotNetstring},
		{name: "HTTP request", in: "GET / HTTP/1.1\r\n\r\n", err: errNotNetstring},
		{name: "sign", in: "+" + minimal, err: errNotNetstring},
		{name: "space after digits", in: "27 :", err: errNoColon},
		{name: "missing comma", in: strings.TrimSuffix(minimal, ",") + ";", err: errNoComma},
		{name: "missing trailing NUL", in: block("CONTENT_LENGTH\x000\x00SCGI\x001\x00X"), err: errNoTrailingNUL},
		{name: "value not terminated", in: block("CONTENT_LENGTH\x000\x00SCGI\x001"), err: errNoTrailingNUL},
		{name: "name without value", in: block("CONTENT_LENGTH\x000\x00SCGI\x001\x00X\x00"), err: errNoValue},
		{name: "block of one NUL", in: block("\x00"), err: errEmptyName},
		{name: "empty name", in: netstring("CONTENT_LENGTH", "0", "SCGI", "1", "", "v"), err: errEmptyName},
		{name: "CONTENT_LENGTH not first", in: netstring("SCGI", "1", "CONTENT_LENGTH", "0"), err: errNoLength},
		{name: "CONTENT_LENGTH missing", in: netstring("SCGI", "1"), err: errNoLength},
		{name: "CONTENT_LENGTH lower case", in: netstring("content_length", "0", "SCGI", "1"), err: errNoLength},
		{name: "CONTENT_LENGTH empty", in: netstring("CONTENT_LENGTH", "", "SCGI", "1"), err: errBadLength},
		{name: "CONTENT_LENGTH negative", in: netstring("CONTENT_LENGTH", "-1", "SCGI", "1"), err: errBadLength},
		{name: "CONTENT_LENGTH plus", in: netstring("CONTENT_LENGTH", "+5", "SCGI", "1"), err: errBadLength},
		{name: "CONTENT_LENGTH space", in: netstring("CONTENT_LENGTH", " 5", "SCGI", "1"), err: errBadLength},
		{name: "CONTENT_LENGTH hex", in: netstring("CONTENT_LENGTH", "0x5", "SCGI", "1"), err: errBadLength},
		{name: "CONTENT_LENGTH overflow", in: netstring("CONTENT_LENGTH", "99999999999999999999", "SCGI", "1"), err: errBadLength},
		{name: "CONTENT_LENGTH repeated", in: netstring("CONTENT_LENGTH", "0", "SCGI", "1", "CONTENT_LENGTH", "0"), err: errRepeatedName},
		{name: "repeated name", in: netstring("CONTENT_LENGTH", "0", "SCGI", "1", "A", "x", "A", "x"), err: errRepeatedName},
		{name: "repeated SCGI", in: netstring("CONTENT_LENGTH", "0", "SCGI", "1", "SCGI", "1"), err: errRepeatedName},
		{name: "repeated HTTP_HOST", in: netstring("CONTENT_LENGTH", "0", "SCGI", "1", "HTTP_HOST", "a", "HTTP_HOST", "b"), err: errRepeatedName},
		{
			name: "repeated fields joined",
			in: netstring("CONTENT_LENGTH", "0", "SCGI", "1", "HTTP_COOKIE", "a=1", "HTTP_X_FORWARDED_FOR", "1.1.1.1",
				"HTTP_COOKIE", "b=2", "HTTP_X_FORWARDED_FOR", "2.2.2.2"),
			env: environ.Environ{"CONTENT_LENGTH": "0", "SCGI": "1", "HTTP_COOKIE": "a=1; b=2",
				"HTTP_X_FORWARDED_FOR": "1.1.1.1, 2.2.2.2"},
		},
		{name: "SCGI missing", in: netstring("CONTENT_LENGTH", "0", "REQUEST_METHOD", "GET"), err: errNoSCGI},
		{name: "SCGI 2", in: netstring("CONTENT_LENGTH", "0", "SCGI", "2"), err: errBadSCGIVersion},
		{name: "SCGI empty", in: netstring("CONTENT_LENGTH", "0", "SCGI", ""), err: errBadSCGIVersion},
		{name: "SCGI 1.0", in: netstring("CONTENT_LENGTH", "0", "SCGI", "1.0"), err: errBadSCGIVersion},
		{name: "at the limit", in: minimal, limit: 24, env: environ.Environ{"CONTENT_LENGTH": "0", "SCGI": "1"}},
		{name: "over the limit", in: minimal, limit: 23, err: errTooLarge},
		{name: "over the limit, digits only", in: "2000", limit: 1999, err: errTooLarge},
		{name: "too many digits", in: "10000000", limit: 1 << 20, err: errTooManyDigits},
		{name: "too many digits, huge limit", in: "1234567890123456789012345", limit: 1<<63 - 1, err: errTooManyDigits},
		{name: "19 digits, huge limit", in: "9999999999999999999:", limit: 1<<63 - 1, err: errTooLarge},
		{name: "just over a huge limit", in: "9223372036854775808:", limit: 1<<63 - 1, err: errTooLarge},
		{name: "empty input", in: "", wantEOF: true},
		{name: "truncated in digits", in: "2", wantEOF: true},
		{name: "truncated after colon", in: "24:", wantEOF: true},
		{name: "truncated in block", in: minimal[:10], wantEOF: true},
		{name: "truncated before comma", in: minimal[:len(minimal)-1], wantEOF: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limit := tt.limit
			if limit == 0 {
				limit = DefaultMaxHeaderBytes
			}
			br := bufio.NewReader(strings.NewReader(tt.in + "BODY"))
			if tt.wantEOF {
				br = bufio.NewReader(strings.NewReader(tt.in))
			}
			req, err := readHeader(br, limit)
			switch {
			case tt.wantEOF:
				if err != io.EOF && err != io.ErrUnexpectedEOF {
					t.Fatalf("err = %v, want io.EOF or io.ErrUnexpectedEOF", err)
				}
				if tt.in == "" && err != io.EOF {
					t.Fatalf("err = %v, want io.EOF for an empty connection", err)
				}
				return
			case tt.err != nil:
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				if !isHeaderError(err) {
					t.Fatalf("isHeaderError(%v) = false", err)
				}
				return
			case err != nil:
				t.Fatalf("unexpected error %v", err)
			}
			if !maps.Equal(req.pairs.Environ(), tt.env) {
				t.Errorf("env = %q, want %q", req.pairs.Environ(), tt.env)
			}
			if req.contentLength != tt.length {
				t.Errorf("contentLength = %d, want %d", req.contentLength, tt.length)
			}
			rest, _ := io.ReadAll(br)
			if string(rest) != "BODY" {
				t.Errorf("left %q unread, want %q", rest, "BODY")
			}
		})
	}
}

// TestReadHeaderRefusesEarly checks that an oversized declared length is
// refused before the rest of the connection's bytes are awaited.
func TestReadHeaderRefusesEarly(t *testing.T) {
	pr, pw := io.Pipe()
	defer pr.Close()
	go func() {
		pw.Write([]byte("2000000")) // then block: no ':' ever comes
	}()
	_, err := readHeader(bufio.NewReader(pr), DefaultMaxHeaderBytes)
	if !errors.Is(err, errTooLarge) {
		t.Fatalf("err = %v, want %v", err, errTooLarge)
	}
}

func TestHeaderErrorMessage(t *testing.T) {
	got := errNoComma.Error()
	want := "scgi: malformed header: netstring not terminated by ','"
	if got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestRecordings parses the requests recorded from nginx, lighttpd and
// Apache (testdata/scgi/record.sh).
func TestRecordings(t *testing.T) {
	recs := recordings(t)
	for _, server := range []string{"nginx", "lighttpd", "apache"} {
		for _, method := range []string{"get", "post"} {
			name := server + "-" + method + ".scgi"
			t.Run(name, func(t *testing.T) {
				data, ok := recs[name]
				if !ok {
					t.Fatalf("recording %s missing", name)
				}
				br := bufio.NewReader(strings.NewReader(string(data)))
				req, err := readHeader(br, DefaultMaxHeaderBytes)
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.ToLower(req.pairs.Environ()["REQUEST_METHOD"]); got != method {
					t.Errorf("REQUEST_METHOD = %q, want %q", got, method)
				}
				body, _ := io.ReadAll(br)
				if int64(len(body)) != req.contentLength {
					t.Errorf("body is %d bytes, CONTENT_LENGTH %d", len(body), req.contentLength)
				}
				if method == "post" && string(body) != "name=value&other=%00x" {
					t.Errorf("body = %q", body)
				}
			})
		}
	}
}

func TestMaxDigits(t *testing.T) {
	for _, tt := range []struct{ limit, want int }{
		{0, 1}, {9, 1}, {10, 2}, {99, 2}, {100, 3}, {1 << 20, 7}, {1<<63 - 1, 19},
	} {
		if got := maxDigits(tt.limit); got != tt.want {
			t.Errorf("maxDigits(%d) = %d, want %d", tt.limit, got, tt.want)
		}
	}
}

// TestRepeated checks the repeat rule on both of its paths, the hashed bits
// (up to 64 pairs) and the map past them, and on names whose bits collide.
func TestRepeated(t *testing.T) {
	many := func(extra ...string) environ.Pairs {
		var p environ.Pairs
		for i := range 70 {
			p = append(p, environ.Pair{Name: fmt.Sprintf("V_%d", i)})
		}
		for _, name := range extra {
			p = append(p, environ.Pair{Name: name})
		}
		return p
	}
	few := func(names ...string) environ.Pairs {
		var p environ.Pairs
		for _, name := range names {
			p = append(p, environ.Pair{Name: name})
		}
		return p
	}
	tests := []struct {
		name string
		p    environ.Pairs
		want bool
	}{
		{"none", nil, false},
		{"distinct", few("CONTENT_LENGTH", "SCGI", "REQUEST_METHOD", "HTTP_HOST"), false},
		{"meta-variable twice", few("A", "B", "A"), true},
		{"field twice: joined", few("HTTP_COOKIE", "SCGI", "HTTP_COOKIE"), false},
		{"HTTP_HOST twice", few("HTTP_HOST", "HTTP_HOST"), true},
		// same length, last and middle byte: the same bit, different names
		{"colliding bits, distinct names", few("AXB", "CXB", "DXB"), false},
		{"colliding bits, then a repeat", few("AXB", "CXB", "AXB"), true},
		{"many distinct", many(), false},
		{"many, one repeat", many("V_3"), true},
		{"many, a field twice", many("HTTP_X", "HTTP_X"), false},
		{"many, HTTP_HOST twice", many("HTTP_HOST", "HTTP_HOST"), true},
	}
	for _, tt := range tests {
		if got := repeated(tt.p); got != tt.want {
			t.Errorf("%s: repeated = %v, want %v", tt.name, got, tt.want)
		}
	}
}
