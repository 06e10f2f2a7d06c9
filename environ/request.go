package environ

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// RequestError reports an environ from which no request can be built; a
// gateway answers it with 400 Bad Request.
type RequestError struct {
	Var    string // the variable at fault
	Value  string // its value
	Reason string // "missing" or "invalid"
}

func (e *RequestError) Error() string {
	if e.Reason == "missing" {
		return "environ: missing " + e.Var
	}
	return "environ: " + e.Reason + " " + e.Var + " " + strconv.Quote(e.Value)
}

// NewRequest builds the server-side request an http.Handler sees for env,
// reading its body from body. A nil body or http.NoBody says there is no
// body at all (a FastCGI STDIN stream that ended empty, a CGI request
// without CONTENT_LENGTH): r.ContentLength is then 0 even without
// CONTENT_LENGTH. See the package documentation for the rules.
func NewRequest(env Environ, body io.Reader) (*http.Request, error) {
	r := new(http.Request)
	if err := fillRequest(r, env, body); err != nil {
		return nil, err
	}
	return r, nil
}

// NewRequestWithContext is NewRequest for a request whose context is ctx
// (as r.WithContext(ctx) would give, without the copy). It panics when ctx
// is nil, as http.Request.WithContext does.
func NewRequestWithContext(ctx context.Context, env Environ, body io.Reader) (*http.Request, error) {
	var r http.Request // does not escape: WithContext returns a copy
	if err := fillRequest(&r, env, body); err != nil {
		return nil, err
	}
	return r.WithContext(ctx), nil
}

// fillRequest fills the zero request r from env and body.
func fillRequest(r *http.Request, env Environ, body io.Reader) error {
	var store [32]variable
	var vars cgiVars
	fields := vars.fromEnviron(env, store[:0])
	return vars.fill(r, body, fields)
}

// fill fills the zero request r from the variables, the HTTP_* ones
// (each name once) and body.
func (v *cgiVars) fill(r *http.Request, body io.Reader, fields []variable) error {
	method := v.method
	if method == "" {
		return &RequestError{Var: "REQUEST_METHOD", Reason: "missing"}
	}
	r.Method, r.Proto, r.ProtoMajor, r.ProtoMinor = method, "HTTP/1.0", 1, 0
	if p := v.proto; p != "" && !strings.EqualFold(p, "INCLUDED") {
		proto, major, minor, ok := parseProto(p)
		if !ok {
			return &RequestError{Var: "SERVER_PROTOCOL", Value: p, Reason: "invalid"}
		}
		r.Proto, r.ProtoMajor, r.ProtoMinor = proto, major, minor
	}
	length := int64(-1)
	if cl := v.contentLength; cl != "" {
		n, ok := parseLength(cl)
		if !ok {
			return &RequestError{Var: "CONTENT_LENGTH", Value: cl, Reason: "invalid"}
		}
		length = n
	}
	if length < 0 && (body == nil || body == http.NoBody) {
		length = 0 // known: there is no body
	}
	https := isOn(v.https)
	if https {
		r.TLS = tlsState(v.source())
	}
	r.Header = v.buildHeader(r, length, fields)
	v.setURL(r)
	r.Host = v.host(https)
	r.RemoteAddr = v.remoteAddr
	if port := v.remotePort; port != "" {
		r.RemoteAddr = net.JoinHostPort(r.RemoteAddr, port)
	}
	setBody(r, body, length)
	return nil
}

// parseProto parses "HTTP/major.minor", the prefix in any letter case, and
// returns it with the prefix in upper case.
func parseProto(p string) (proto string, major, minor int, ok bool) {
	if len(p) >= 5 && p[:5] != "HTTP/" && strings.EqualFold(p[:5], "HTTP/") {
		p = "HTTP/" + p[5:]
	}
	major, minor, ok = http.ParseHTTPVersion(p)
	return p, major, minor, ok
}

// parseLength accepts plain decimal digits only.
func parseLength(s string) (int64, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func setBody(r *http.Request, body io.Reader, length int64) {
	switch {
	case length == 0 || (length < 0 && body == nil):
		r.ContentLength, r.Body = 0, http.NoBody
	case length < 0:
		r.ContentLength = -1
		if rc, ok := body.(io.ReadCloser); ok {
			r.Body = rc
		} else {
			r.Body = io.NopCloser(body)
		}
	default:
		if body == nil {
			body = http.NoBody
		}
		r.ContentLength = length
		r.Body = &exactReader{r: body, n: length}
	}
}

// exactReader reads exactly n bytes of r; a short r gives io.ErrUnexpectedEOF.
type exactReader struct {
	r io.Reader
	n int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.n {
		p = p[:e.n]
	}
	n, err := e.r.Read(p)
	e.n -= int64(n)
	if e.n > 0 && err == io.EOF {
		err = io.ErrUnexpectedEOF
	} else if e.n == 0 && err == nil {
		err = io.EOF
	}
	return n, err
}

func (e *exactReader) Close() error {
	if c, ok := e.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// variable is one variable of an environ.
type variable struct{ name, value string }

// buildHeader makes the request's header from the HTTP_* variables,
// collected before (on the stack for a usual request), so that the header
// map and its values are sized exactly.
//
// Two variables can name one field (HTTP_COOKIE and HTTP_CoOKIE): then the
// field has the values of both, in the order of the variables' names, so
// that the header does not depend on the order the variables were read in.
func (v *cgiVars) buildHeader(r *http.Request, length int64, fields []variable) http.Header {
	n := len(fields)
	h := make(http.Header, n+2)
	vals := make([]string, 0, n+2)
	add := func(k, v string) {
		vals = append(vals, v)
		h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	added := 0
	for _, f := range fields {
		if k, val, ok := v.field(f); ok {
			add(k, val)
			added++
		}
	}
	if len(h) != added { // a field named twice
		slices.SortFunc(fields, func(a, b variable) int { return strings.Compare(a.name, b.name) })
		clear(h)
		for _, f := range fields {
			if k, val, ok := v.field(f); ok {
				h[k] = append(h[k], val)
			}
		}
	}
	if ct := v.contentType; ct != "" {
		add("Content-Type", ct)
	}
	if cl := v.contentLength; cl != "" && keepLength(v.hasHTTPContentLength, r.Method, length) {
		add("Content-Length", cl)
	}
	if length < 0 {
		r.TransferEncoding = []string{"chunked"}
	}
	return h
}

// field returns the header field an HTTP_* variable gives, or false when
// it gives none. The rules go by the field's name, so that a variable
// spelled in another letter case (HTTP_CoOKIE) follows them too.
func (v *cgiVars) field(f variable) (key, value string, ok bool) {
	key, value = headerName(f.name), f.value
	switch key {
	case "Host", "Content-Length":
		return "", "", false // r.Host; the framing is r.ContentLength
	case "Content-Type":
		if v.contentType != "" {
			return "", "", false // CONTENT_TYPE gives it
		}
	case "Transfer-Encoding":
		if strings.EqualFold(strings.TrimSpace(value), "chunked") {
			return "", "", false // the framing is r.ContentLength and r.TransferEncoding
		}
	case "Cookie":
		value = rejoinCookie(value)
	}
	return key, value, true
}

// keepLength reports whether a known CONTENT_LENGTH is kept as a
// Content-Length field. A length above 0 always is. A length of 0 is, when the
// client sent the field: the web server passed it as HTTP_CONTENT_LENGTH too
// (nginx does), or the method is one whose bodiless requests clients send
// with "Content-Length: 0" (POST, PUT, PATCH: browsers, curl -d ” and
// net/http's client do). lighttpd, Caddy, and nginx's and Apache's SCGI pass
// CONTENT_LENGTH 0 on every bodiless request, so a GET's 0 says nothing.
func keepLength(sentField bool, method string, length int64) bool {
	if length > 0 || sentField {
		return true
	}
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		return true
	}
	return false
}

// headerName turns HTTP_X_FOO into X-Foo.
func headerName(k string) string {
	if c, ok := commonHeader[k]; ok {
		return c
	}
	return textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(k[len("HTTP_"):], "_", "-"))
}

var commonHeader = func() map[string]string {
	m := make(map[string]string)
	for _, c := range []string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Authorization",
		"Cache-Control", "Connection", "Cookie", "Dnt", "If-Modified-Since", "If-None-Match",
		"If-Match", "If-Range", "If-Unmodified-Since", "Origin", "Pragma", "Priority", "Range",
		"Referer", "Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform", "Sec-Fetch-Dest",
		"Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Fetch-User", "Te", "Upgrade",
		"Upgrade-Insecure-Requests", "User-Agent", "Via", "X-Forwarded-For",
		"X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip", "X-Requested-With", "Forwarded",
		"Keep-Alive", "Content-Encoding", "Expect", "Host", "Content-Length", "Content-Type",
		"Transfer-Encoding",
	} {
		m["HTTP_"+strings.ReplaceAll(strings.ToUpper(c), "-", "_")] = c
	}
	return m
}()

// setURL fills r.URL and r.RequestURI from REQUEST_URI, parsed as
// net/http.Server parses a request target, or, when it is absent or does not
// parse, from SCRIPT_NAME, PATH_INFO and QUERY_STRING.
func (v *cgiVars) setURL(r *http.Request) {
	if raw := v.requestURI; raw != "" {
		r.RequestURI = raw
		target := raw
		authority := r.Method == "CONNECT" && !strings.HasPrefix(raw, "/")
		if authority {
			target = "http://" + raw
		}
		if u, err := url.ParseRequestURI(target); err == nil {
			if authority {
				u.Scheme = ""
			}
			r.URL = u
			return
		}
	}
	r.URL = &url.URL{Path: v.scriptName + v.pathInfo, RawQuery: v.query}
	uri := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		uri += "?" + r.URL.RawQuery
	}
	if r.RequestURI == "" {
		r.RequestURI = uri
	}
}

// host is HTTP_HOST, else SERVER_NAME with SERVER_PORT unless it is the
// scheme's default.
func (v *cgiVars) host(https bool) string {
	if h := v.httpHost; h != "" {
		return h
	}
	name, port := v.serverName, v.serverPort
	if strings.IndexByte(name, ':') >= 0 && !strings.HasPrefix(name, "[") {
		name = "[" + name + "]"
	}
	def := "80"
	if https {
		def = "443"
	}
	if port == "" || port == def {
		return name
	}
	return name + ":" + port
}

// FromRequest returns the CGI variables of r: those a web server would pass
// for it (RFC 3875), with SCRIPT_NAME "" and PATH_INFO the decoded path.
func FromRequest(r *http.Request) Environ {
	env := make(Environ, len(r.Header)+16)
	env["GATEWAY_INTERFACE"] = "CGI/1.1"
	env["SERVER_PROTOCOL"] = r.Proto
	env["REQUEST_METHOD"] = r.Method
	env["SCRIPT_NAME"] = ""
	env["PATH_INFO"] = r.URL.Path
	env["QUERY_STRING"] = r.URL.RawQuery
	env["REQUEST_URI"] = r.RequestURI
	if r.RequestURI == "" {
		env["REQUEST_URI"] = r.URL.RequestURI()
	}
	defPort := "80"
	if r.TLS != nil {
		env["HTTPS"] = "on"
		defPort = "443"
	}
	name, port := splitHostPort(r.Host)
	if name == "" {
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			name, port = splitHostPort(a.String())
		}
	}
	if port == "" {
		port = defPort
	}
	env["SERVER_NAME"], env["SERVER_PORT"] = name, port
	if r.Host != "" {
		env["HTTP_HOST"] = r.Host
	}
	addr, rport := splitHostPort(r.RemoteAddr)
	env["REMOTE_ADDR"] = addr
	if rport != "" {
		env["REMOTE_PORT"] = rport
	}
	for k, vs := range r.Header {
		v := strings.Join(vs, ", ")
		switch textproto.CanonicalMIMEHeaderKey(k) {
		case "Content-Type":
			env["CONTENT_TYPE"] = v
		case "Content-Length":
			env["CONTENT_LENGTH"] = v
		case "Host":
		default:
			env["HTTP_"+strings.ReplaceAll(strings.ToUpper(k), "-", "_")] = v
		}
	}
	if len(r.TransferEncoding) > 0 {
		env["HTTP_TRANSFER_ENCODING"] = strings.Join(r.TransferEncoding, ", ")
	}
	return env
}

// splitHostPort splits "host:port", "[v6]:port", "[v6]" or a bare host.
func splitHostPort(s string) (host, port string) {
	if h, p, err := net.SplitHostPort(s); err == nil {
		return h, p
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return s[1 : len(s)-1], ""
	}
	return s, ""
}
