package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cgiref/cgiref/headers"
)

// field is one header name with its values, as it will be written.
type field struct {
	canon  string // canonical form, the sort key
	name   string // as written
	values []string
}

// commit writes the status and the header, then the buffered body. final
// says the handler has returned, so the buffered body is the whole body.
// extra is the write that overflowed the buffer, used for sniffing when
// nothing was buffered yet.
//
// A bad field is an app error: the error answer goes out instead and the
// error is returned (and kept for the app's later calls).
func (w *response) commit(final bool, extra []byte) error {
	if !final && w.body.pending() {
		// The answer is about to go past the buffer while the web server
		// may still be writing the body: take the rest of it first.
		w.body.spoolRest()
	}
	var store [8]field // a typical answer's fields, on the stack
	fields, err := w.fields(final, extra, store[:0])
	if err != nil {
		w.fail(fmt.Errorf("gateway: %s %s: %w", w.req.Method, w.req.URL.Path, err))
		return w.failed
	}
	bp := bufPool.Get().(*[]byte)
	b := (*bp)[:0]
	if w.h.sendsHeader() {
		_, haveDate := w.header["Date"]
		_, haveServer := w.header["Server"]
		b = w.h.appendPreamble(b, w.status, haveDate, haveServer)
		for _, f := range fields {
			for _, v := range f.values {
				b = appendField(b, f.name, v)
			}
		}
		b = append(b, "\r\n"...)
	}
	if !w.isHead {
		b = append(b, *w.buf...)
	}
	w.committed = true
	*w.buf = (*w.buf)[:0]
	_, werr := w.out.Write(b)
	*bp = b[:0]
	bufPool.Put(bp)
	if werr != nil {
		return w.writeFailed(werr)
	}
	return nil
}

// fields checks the app's header and appends to fields what to write,
// sorted, with the automatic Content-Length and Content-Type added.
func (w *response) fields(final bool, extra []byte, fields []field) ([]field, error) {
	for name, values := range w.header {
		canon := http.CanonicalHeaderKey(name)
		if len(values) == 0 {
			continue
		}
		if canon == "Status" {
			w.logf("gateway: dropped the Status field %q (the status comes from WriteHeader)", values)
			continue
		}
		if headers.IsHopByHop(name) {
			w.logf("gateway: dropped hop-by-hop field %s (the web server owns the connection)", name)
			continue
		}
		for _, v := range values {
			if err := headers.CheckField(name, v); err != nil {
				return nil, err
			}
		}
		fields = append(fields, field{canon: canon, name: name, values: values})
	}
	allowed := bodyAllowed(w.status)
	_, hasLength := w.header["Content-Length"]
	if final && allowed && !hasLength && (!w.isHead || w.written > 0) {
		w.autoValues[0] = strconv.FormatInt(w.written, 10)
		fields = append(fields, field{canon: "Content-Length", name: "Content-Length", values: w.autoValues[0:1:1]})
	}
	_, hasType := w.header["Content-Type"]
	sniff := *w.buf
	if len(sniff) == 0 {
		sniff = extra
	}
	if allowed && !hasType && w.header.Get("Content-Encoding") == "" && len(sniff) > 0 {
		w.autoValues[1] = http.DetectContentType(sniff)
		fields = append(fields, field{canon: "Content-Type", name: "Content-Type", values: w.autoValues[1:2:2]})
	}
	slices.SortFunc(fields, func(a, b field) int { return strings.Compare(a.canon, b.canon) })
	return fields, nil
}

// appendPreamble appends the status (a CGI Status field or an HTTP status
// line) and, for an origin server, the Date and Server fields the answer
// does not set itself.
func (h *Handler) appendPreamble(b []byte, status int, haveDate, haveServer bool) []byte {
	if !h.OriginServer {
		b = append(b, "Status: "...)
		b = appendStatus(b, status)
		return append(b, "\r\n"...)
	}
	version := h.HTTPVersion
	if version == "" {
		version = "1.0"
	}
	b = append(b, "HTTP/"...)
	b = append(b, version...)
	b = append(b, ' ')
	b = appendStatus(b, status)
	b = append(b, "\r\n"...)
	if !haveDate {
		b = append(b, "Date: "...)
		b = time.Now().UTC().AppendFormat(b, http.TimeFormat)
		b = append(b, "\r\n"...)
	}
	if !haveServer && h.ServerSoftware != "" {
		b = appendField(b, "Server", h.ServerSoftware)
	}
	return b
}

func appendStatus(b []byte, status int) []byte {
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	return append(b, statusText(status)...)
}

// statusText is http.StatusText, or "Unknown" for a code it does not know.
func statusText(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Unknown"
}

func appendField(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

// sendsHeader reports whether the answer has a status and header before its
// body: always under CGI, and for an origin server unless the request is
// HTTP/0.9.
func (h *Handler) sendsHeader() bool { return !h.http09 }

const defaultErrorBody = "A server error occurred.  Please contact the administrator."

// writeErrorAnswer writes the error answer (ErrorStatus, ErrorHeaders,
// ErrorBody) in place of the app's, which must not have begun.
func (w *response) writeErrorAnswer() {
	w.committed, w.errorPage = true, true
	status := w.h.errorStatus()
	hdrs := w.h.ErrorHeaders
	if hdrs == nil {
		hdrs = []headers.Field{{Name: "Content-Type", Value: "text/plain"}}
	}
	body := w.h.ErrorBody
	if body == nil {
		body = []byte(defaultErrorBody)
	}
	if err := w.h.writeFixed(w.out, w.req.Method == http.MethodHead, status, hdrs, body); err != nil {
		_ = w.writeFailed(err)
	}
}

// errorStatus is the status of the error answer.
func (h *Handler) errorStatus() int {
	if h.ErrorStatus == 0 {
		return http.StatusInternalServerError
	}
	return h.ErrorStatus
}

// writeFixed writes an answer the gateway makes itself (the error answer,
// 400 Bad Request): the fields in the order given, then Content-Length. The
// caller ends the answer.
func (h *Handler) writeFixed(out *output, head bool, status int, hdrs []headers.Field, body []byte) error {
	var b []byte
	if h.sendsHeader() {
		has := func(name string) bool {
			return slices.ContainsFunc(hdrs, func(f headers.Field) bool { return strings.EqualFold(f.Name, name) })
		}
		b = h.appendPreamble(nil, status, has("Date"), has("Server"))
		for _, f := range hdrs {
			b = appendField(b, f.Name, f.Value)
		}
		if !has("Content-Length") {
			b = appendField(b, "Content-Length", strconv.Itoa(len(body)))
		}
		b = append(b, "\r\n"...)
	}
	if !head {
		b = append(b, body...)
	}
	_, err := out.Write(b)
	return err
}
