package scgi

import (
	"bufio"
	"errors"
	"io"
	"strconv"
	"strings"
	"unsafe"

	"github.com/cgiref/cgiref/environ"
)

// DefaultMaxHeaderBytes is the largest header block a Server accepts when
// its MaxHeaderBytes is zero.
const DefaultMaxHeaderBytes = 1 << 20

// headerError reports a header block that breaks the SCGI protocol. The
// connection that sent it gets a 400 answer and is closed.
type headerError struct {
	reason string // what is wrong, in a few words; never echoes the input
}

func (e *headerError) Error() string { return "scgi: malformed header: " + e.reason }

func malformed(reason string) error { return &headerError{reason: reason} }

// The headerErrors the parser returns. They are fixed sentences,
// so the 400 answer never reflects the bytes that were sent.
var (
	errNotNetstring   = malformed("header block is not a netstring (length digits expected)")
	errLeadingZero    = malformed("netstring length has a leading zero")
	errTooManyDigits  = malformed("netstring length has too many digits")
	errTooLarge       = malformed("header block exceeds the size limit")
	errNoColon        = malformed("netstring length not followed by ':'")
	errNoComma        = malformed("netstring not terminated by ','")
	errNoTrailingNUL  = malformed("header block does not end with a NUL")
	errEmptyName      = malformed("empty header name")
	errNoValue        = malformed("header name without a value")
	errNoLength       = malformed("first header is not CONTENT_LENGTH")
	errBadLength      = malformed("CONTENT_LENGTH is not a decimal number")
	errRepeatedName   = malformed("repeated header name")
	errNoSCGI         = malformed("SCGI header missing")
	errBadSCGIVersion = malformed("SCGI header is not 1")
)

// request is a parsed SCGI header block.
type request struct {
	pairs environ.Pairs // in the order sent; no name repeats but an HTTP_* field's

	contentLength int64
	headerLen     int64 // bytes of the header netstring
}

// maxDigits is how many decimal digits a netstring length below or at limit
// can have.
func maxDigits(limit int) int {
	d := 1
	for ; limit >= 10; limit /= 10 {
		d++
	}
	return d
}

// readLength reads a netstring's length and its ':' from br. A length past
// limit is refused as soon as its digits show it, before the block is read.
func readLength(br *bufio.Reader, limit int) (int, error) {
	maxd := maxDigits(limit)
	n, digits := 0, 0
	for {
		c, err := br.ReadByte()
		if err != nil {
			if err == io.EOF && digits > 0 {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		switch {
		case c >= '0' && c <= '9':
			if digits == 1 && n == 0 {
				return 0, errLeadingZero
			}
			digits++
			if digits > maxd {
				return 0, errTooManyDigits
			}
			d := int(c - '0')
			if n > (limit-d)/10 {
				return 0, errTooLarge // n*10+d > limit, checked without overflow
			}
			n = n*10 + d
		case digits == 0:
			return 0, errNotNetstring
		case c == ':':
			return n, nil
		default:
			return 0, errNoColon
		}
	}
}

// readHeader reads one SCGI header netstring from br and parses it. It reads
// nothing past the netstring's ',', so br is left at the first body byte.
// Errors are *headerError for broken syntax, io.EOF for a connection closed
// before its first byte, and io.ErrUnexpectedEOF or the reader's error for a
// connection that ended or failed inside the header.
func readHeader(br *bufio.Reader, limit int) (request, error) {
	n, err := readLength(br, limit)
	if err != nil {
		return request{}, err
	}
	// One buffer holds the block and its ','; the names and values are
	// substrings of it.
	buf := make([]byte, n+1)
	if _, err := io.ReadFull(br, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return request{}, err
	}
	if buf[n] != ',' {
		return request{}, errNoComma
	}
	// buf is never written again, so the string may share its memory.
	req, err := parseBlock(unsafe.String(unsafe.SliceData(buf), n))
	req.headerLen = int64(len(strconv.Itoa(n)) + 2 + n)
	return req, err
}

// parseBlock parses the header block: NUL-terminated names and values, the
// first pair CONTENT_LENGTH, an SCGI pair of value 1 somewhere. A repeated
// HTTP_* name (nginx before 1.23 sends a repeated request field so) is one
// variable with its values joined (environ.Pairs); any other name twice is
// malformed.
func parseBlock(s string) (request, error) {
	if s == "" {
		return request{}, errNoLength
	}
	if s[len(s)-1] != 0 {
		return request{}, errNoTrailingNUL
	}
	req := request{pairs: make(environ.Pairs, 0, strings.Count(s, "\x00")/2)}
	for first := true; s != ""; first = false {
		i := strings.IndexByte(s, 0)
		name := s[:i]
		s = s[i+1:]
		if name == "" {
			return request{}, errEmptyName
		}
		i = strings.IndexByte(s, 0)
		if i < 0 {
			return request{}, errNoValue
		}
		value := s[:i]
		s = s[i+1:]
		if first {
			if name != "CONTENT_LENGTH" {
				return request{}, errNoLength
			}
			cl, err := parseContentLength(value)
			if err != nil {
				return request{}, err
			}
			req.contentLength = cl
		}
		req.pairs = append(req.pairs, environ.Pair{Name: name, Value: value})
	}
	if repeated(req.pairs) {
		return request{}, errRepeatedName
	}
	switch v, ok := req.pairs.Lookup("SCGI"); {
	case !ok:
		return request{}, errNoSCGI
	case v != "1":
		return request{}, errBadSCGIVersion
	}
	return req, nil
}

// repeated reports whether a name other than a joined HTTP_* field
// (environ.Joined) occurs twice in p. A bit per name's hash finds the
// names seen for the first time without comparing; past a few dozen pairs a
// map keeps the check linear.
func repeated(p environ.Pairs) bool {
	if len(p) > 64 {
		seen := make(map[string]struct{}, len(p))
		for _, v := range p {
			if _, ok := seen[v.Name]; ok && !environ.Joined(v.Name) {
				return true
			}
			seen[v.Name] = struct{}{}
		}
		return false
	}
	var bits [4]uint64
	for i, v := range p {
		name := v.Name
		h := (uint(len(name))*131 + uint(name[len(name)-1])*31 + uint(name[len(name)/2])) & 255
		if bits[h/64]&(1<<(h%64)) == 0 {
			bits[h/64] |= 1 << (h % 64)
			continue
		}
		if environ.Joined(name) {
			continue // joined even when it repeats
		}
		for _, w := range p[:i] {
			if w.Name == name {
				return true
			}
		}
	}
	return false
}

// parseContentLength parses a non-empty string of ASCII digits (leading
// zeros allowed, as the protocol does not forbid them).
func parseContentLength(v string) (int64, error) {
	if v == "" {
		return 0, errBadLength
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, errBadLength
		}
		if n > (1<<63-1-9)/10 {
			return 0, errBadLength
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// isHeaderError reports whether err is a protocol violation rather than a
// connection problem.
func isHeaderError(err error) bool {
	var he *headerError
	return errors.As(err, &he)
}
