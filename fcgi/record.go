package fcgi

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/cgiref/cgiref/environ"
)

// recType is a FastCGI record type.
type recType uint8

// Record types (FastCGI specification, section 8).
const (
	typeBeginRequest    recType = 1
	typeAbortRequest    recType = 2
	typeEndRequest      recType = 3
	typeParams          recType = 4
	typeStdin           recType = 5
	typeStdout          recType = 6
	typeStderr          recType = 7
	typeData            recType = 8
	typeGetValues       recType = 9
	typeGetValuesResult recType = 10
	typeUnknownType     recType = 11
)

// Roles of a BEGIN_REQUEST.
const (
	roleResponder  = 1
	roleAuthorizer = 2
	roleFilter     = 3
)

// flagKeepConn is the BEGIN_REQUEST flag asking the application to keep the
// connection open after the request.
const flagKeepConn = 1

// Protocol statuses of an END_REQUEST.
const (
	statusRequestComplete = 0
	statusCantMultiplex   = 1
	statusOverloaded      = 2
	statusUnknownRole     = 3
)

// Record framing limits.
const (
	headerLen     = 8
	version1      = 1
	maxContent    = 65535 // largest content of one record
	maxPadding    = 255
	maxWrite      = 65528 // largest content this package writes: a multiple of 8, no padding
	endRequestLen = headerLen + 8
)

// Names of the management variables answered to FCGI_GET_VALUES.
const (
	nameMaxConns = "FCGI_MAX_CONNS"
	nameMaxReqs  = "FCGI_MAX_REQS"
	nameMpxsConn = "FCGI_MPXS_CONNS"
)

// errMalformed is wrapped by every error about bytes that break the protocol.
var errMalformed = errors.New("fcgi: malformed record stream")

// record is one record read from a connection. Content aliases the reader's
// buffer: it is valid until the next call to next.
type record struct {
	typ     recType
	id      uint16
	content []byte
}

// recordReader reads records with no allocation in the steady state. Over
// a bufio.Reader, a record that fits its buffer is read in place (Peek);
// a larger one goes into a 64 KiB buffer borrowed from recBufPool for as
// long as the record is in use, so that an idle connection holds no record
// buffer at all.
type recordReader struct {
	r       io.Reader
	br      *bufio.Reader // r, when it is one
	hdr     [headerLen]byte
	buf     []byte  // maxContent+maxPadding bytes when the caller gave them
	borrow  *[]byte // from recBufPool, held until the next record
	discard int     // bytes of br peeked at by the last record
}

// recBufPool holds the buffers of records too large for the bufio.Reader.
var recBufPool = sync.Pool{New: func() any { b := make([]byte, maxContent+maxPadding); return &b }}

// newRecordReader returns a reader of records from r; buf, when not nil,
// is the buffer for records that are not read in place.
func newRecordReader(r io.Reader, buf []byte) *recordReader {
	rr := &recordReader{r: r}
	rr.br, _ = r.(*bufio.Reader)
	if buf != nil {
		if cap(buf) < maxContent+maxPadding {
			buf = make([]byte, maxContent+maxPadding)
		}
		rr.buf = buf[:maxContent+maxPadding]
	}
	return rr
}

// release gives back what the last record used.
func (rr *recordReader) release() {
	if rr.discard > 0 {
		rr.br.Discard(rr.discard)
		rr.discard = 0
	}
	if rr.borrow != nil {
		recBufPool.Put(rr.borrow)
		rr.borrow = nil
	}
}

// whole reports whether the record after the current one is wholly in the
// buffer, so that next reads no socket.
func (rr *recordReader) whole() bool {
	if rr.br == nil {
		return false
	}
	n := rr.br.Buffered() - rr.discard
	if n < headerLen {
		return false
	}
	b, err := rr.br.Peek(rr.discard + headerLen)
	if err != nil {
		return false
	}
	h := b[rr.discard:]
	return n >= headerLen+int(binary.BigEndian.Uint16(h[4:6]))+int(h[6])
}

// next reads one record; the previous record's content is no longer valid.
// At a clean end of stream between records it returns io.EOF; a record cut
// short or of the wrong version gives an error wrapping errMalformed.
func (rr *recordReader) next() (record, error) {
	rr.release()
	if _, err := io.ReadFull(rr.r, rr.hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return record{}, fmt.Errorf("%w: truncated record header", errMalformed)
		}
		return record{}, err
	}
	if rr.hdr[0] != version1 {
		return record{}, fmt.Errorf("%w: version %d", errMalformed, rr.hdr[0])
	}
	rec := record{
		typ: recType(rr.hdr[1]),
		id:  binary.BigEndian.Uint16(rr.hdr[2:4]),
	}
	n := int(binary.BigEndian.Uint16(rr.hdr[4:6]))
	total := n + int(rr.hdr[6])
	if rr.br != nil && total <= rr.br.Size() {
		b, err := rr.br.Peek(total)
		if err != nil {
			return record{}, rr.contentErr(rec, err)
		}
		rr.discard = total
		rec.content = b[:n]
		return rec, nil
	}
	buf := rr.buf
	if buf == nil {
		rr.borrow = recBufPool.Get().(*[]byte)
		buf = *rr.borrow
	}
	if _, err := io.ReadFull(rr.r, buf[:total]); err != nil {
		return record{}, rr.contentErr(rec, err)
	}
	rec.content = buf[:n]
	return rec, nil
}

func (rr *recordReader) contentErr(rec record, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: truncated %v record", errMalformed, rec.typ)
	}
	return err
}

// beginRequest is the body of a BEGIN_REQUEST record.
type beginRequest struct {
	role  uint16
	flags uint8
}

func parseBeginRequest(content []byte) (beginRequest, error) {
	if len(content) != 8 {
		return beginRequest{}, fmt.Errorf("%w: BEGIN_REQUEST body of %d bytes", errMalformed, len(content))
	}
	return beginRequest{role: binary.BigEndian.Uint16(content), flags: content[2]}, nil
}

// endRequest is the body of an END_REQUEST record.
type endRequest struct {
	appStatus      uint32
	protocolStatus uint8
}

func parseEndRequest(content []byte) (endRequest, error) {
	if len(content) != 8 {
		return endRequest{}, fmt.Errorf("%w: END_REQUEST body of %d bytes", errMalformed, len(content))
	}
	return endRequest{appStatus: binary.BigEndian.Uint32(content), protocolStatus: content[4]}, nil
}

// appendHeader appends a record header for content of n bytes and returns the
// padding length the record needs.
func appendHeader(dst []byte, typ recType, id uint16, n int) ([]byte, int) {
	pad := -n & 7
	return append(dst, version1, byte(typ), byte(id>>8), byte(id), byte(n>>8), byte(n), byte(pad), 0), pad
}

var zeros [8]byte

// appendRecord appends content as records of type typ, split at maxWrite
// bytes and padded to a multiple of 8. Empty content gives one empty record
// (the end of a stream).
func appendRecord(dst []byte, typ recType, id uint16, content []byte) []byte {
	for {
		n := min(len(content), maxWrite)
		var pad int
		dst, pad = appendHeader(dst, typ, id, n)
		dst = append(dst, content[:n]...)
		dst = append(dst, zeros[:pad]...)
		content = content[n:]
		if len(content) == 0 {
			return dst
		}
	}
}

// appendBeginRequest appends a BEGIN_REQUEST record.
func appendBeginRequest(dst []byte, id uint16, role uint16, flags uint8) []byte {
	dst, _ = appendHeader(dst, typeBeginRequest, id, 8)
	return append(dst, byte(role>>8), byte(role), flags, 0, 0, 0, 0, 0)
}

// appendEndRequest appends an END_REQUEST record.
func appendEndRequest(dst []byte, id uint16, appStatus uint32, protocolStatus uint8) []byte {
	dst, _ = appendHeader(dst, typeEndRequest, id, 8)
	return append(dst, byte(appStatus>>24), byte(appStatus>>16), byte(appStatus>>8), byte(appStatus),
		protocolStatus, 0, 0, 0)
}

// appendUnknownType appends an UNKNOWN_TYPE record answering a management
// record of type t.
func appendUnknownType(dst []byte, t recType) []byte {
	dst, _ = appendHeader(dst, typeUnknownType, 0, 8)
	return append(dst, byte(t), 0, 0, 0, 0, 0, 0, 0)
}

// appendPair appends one name-value pair, with 1-byte lengths below 128 and
// 4-byte lengths otherwise.
func appendPair(dst []byte, name, value string) []byte {
	dst = appendLength(dst, len(name))
	dst = appendLength(dst, len(value))
	dst = append(dst, name...)
	return append(dst, value...)
}

func appendLength(dst []byte, n int) []byte {
	if n < 128 {
		return append(dst, byte(n))
	}
	return append(dst, byte(n>>24)|0x80, byte(n>>16), byte(n>>8), byte(n))
}

// nextPair decodes the name-value pair at the start of b and returns the
// rest. A length that runs past b is an error wrapping errMalformed.
func nextPair[T string | []byte](b T) (name, value, rest T, err error) {
	nlen, b, ok := readLength(b)
	if !ok {
		return name, value, rest, fmt.Errorf("%w: truncated name length", errMalformed)
	}
	vlen, b, ok := readLength(b)
	if !ok {
		return name, value, rest, fmt.Errorf("%w: truncated value length", errMalformed)
	}
	if uint64(nlen)+uint64(vlen) > uint64(len(b)) {
		return name, value, rest, fmt.Errorf("%w: name-value pair of %d+%d bytes runs past its stream (%d bytes left)",
			errMalformed, nlen, vlen, len(b))
	}
	return b[:nlen], b[nlen : nlen+vlen], b[nlen+vlen:], nil
}

func readLength[T string | []byte](b T) (uint32, T, bool) {
	if len(b) == 0 {
		return 0, b, false
	}
	if b[0] < 0x80 {
		return uint32(b[0]), b[1:], true
	}
	if len(b) < 4 {
		return 0, b, false
	}
	n := uint32(b[0]&0x7f)<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	return n, b[4:], true
}

// decodePairs decodes a complete PARAMS stream into its pairs, in order,
// in dst's array when it is large enough. Every name and value is a
// substring of s, so the decoding costs no allocation but that of the
// slice when dst is too small.
//
// The pairs stand for the environ that environ.Pairs describes: a repeated
// HTTP_* name (nginx before 1.23 sends a repeated request field as repeated
// pairs) is one variable with the values joined. Any other repeated name
// takes its later value: that is nginx's way to override a parameter, and
// the common configuration `include fastcgi_params; fastcgi_param
// SCRIPT_NAME ...;` sends SCRIPT_NAME twice, the stock value first (as
// PHP-FPM and net/http/fcgi, the later value wins).
func decodePairs(s string, dst environ.Pairs) (environ.Pairs, error) {
	n := 0
	for rest := s; len(rest) > 0; n++ {
		var err error
		if _, _, rest, err = nextPair(rest); err != nil {
			return nil, err
		}
	}
	pairs := slices.Grow(dst[:0], n)[:n]
	for i := range pairs {
		pairs[i].Name, pairs[i].Value, s, _ = nextPair(s)
	}
	return pairs, nil
}

// String returns the specification's name of the record type.
func (t recType) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return fmt.Sprintf("type %d", uint8(t))
}

var typeNames = [...]string{
	typeBeginRequest:    "BEGIN_REQUEST",
	typeAbortRequest:    "ABORT_REQUEST",
	typeEndRequest:      "END_REQUEST",
	typeParams:          "PARAMS",
	typeStdin:           "STDIN",
	typeStdout:          "STDOUT",
	typeStderr:          "STDERR",
	typeData:            "DATA",
	typeGetValues:       "GET_VALUES",
	typeGetValuesResult: "GET_VALUES_RESULT",
	typeUnknownType:     "UNKNOWN_TYPE",
}
