package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/yookoala/gofast"
)

// Exit statuses of cgiref call.
const (
	callOK        = 0 // a 2xx or 3xx answer
	callStatus    = 1 // an answer with any other status
	callUsage     = 2 // bad flags or arguments, a -d @FILE that cannot be read
	callNoAnswer  = 3 // no answer: connection refused or cut, timeout, malformed answer
	callUsageText = `cgiref call -addr HOST:PORT|unix:PATH [-proto fcgi|scgi] [-X METHOD] [-H 'Name: value']... [-d BODY|@FILE] [-p NAME=VALUE]... [-timeout D] /PATH?QUERY

Sends one request to a FastCGI responder or an SCGI backend, as a web server
would, and prints the answer to standard output: "Status: CODE TEXT", the
header fields, a blank line, the body. The backend's error stream
(FCGI_STDERR) goes to standard error.

Exit status: 0 for a 2xx or 3xx answer, 1 for any other status, 2 for bad
usage, 3 when no answer came (connection refused or cut, timeout, malformed
answer).`
)

// callOptions are the flags of cgiref call.
type callOptions struct {
	addr    string
	proto   string
	method  string
	headers multiFlag
	params  multiFlag
	data    string
	timeout time.Duration
	target  string
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// callAnswer is what a backend answered.
type callAnswer struct {
	status int
	reason string
	header http.Header
	body   []byte
}

// runCall runs cgiref call with its own standard output.
func runCall(args []string, stderr io.Writer) int {
	return call(args, os.Stdout, stderr)
}

// call is cgiref call writing the answer to stdout.
func call(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s\n\n", callUsageText)
		fs.PrintDefaults()
	}
	var o callOptions
	fs.StringVar(&o.addr, "addr", "", "the backend: `HOST:PORT` or unix:PATH (required)")
	fs.StringVar(&o.proto, "proto", "fcgi", "the protocol: fcgi or scgi")
	fs.StringVar(&o.method, "X", "", "the request `method` (default GET, or POST with -d)")
	fs.Var(&o.headers, "H", "a request header field `Name: value` (repeatable)")
	fs.Var(&o.params, "p", "an extra CGI variable `NAME=VALUE`, such as SCRIPT_FILENAME=/srv/app.php (repeatable; overrides the defaults)")
	fs.StringVar(&o.data, "d", "", "the request body: `BODY` itself, @FILE for a file's contents, @- for standard input")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "the longest the whole exchange may take")
	if code, done := parseSubcommand(fs, args, true); done {
		if code != 0 {
			return callUsage
		}
		return callOK
	}
	if fs.NArg() != 1 || o.addr == "" {
		fmt.Fprintln(stderr, "call: need -addr and exactly one /PATH?QUERY")
		fs.Usage()
		return callUsage
	}
	o.target = fs.Arg(0)
	env, body, err := o.request()
	if err != nil {
		fmt.Fprintf(stderr, "call: %v\n", err)
		return callUsage
	}
	var a *callAnswer
	switch o.proto {
	case "fcgi":
		a, err = callFCGI(o.addr, env, body, o.timeout, stderr)
	case "scgi":
		a, err = callSCGI(o.addr, env, body, o.timeout)
	default:
		fmt.Fprintf(stderr, "call: unknown -proto %q (fcgi or scgi)\n", o.proto)
		return callUsage
	}
	if err == nil && env["REQUEST_METHOD"] != http.MethodHead {
		err = a.checkLength()
	}
	if err != nil {
		fmt.Fprintf(stderr, "call: %s %s: %v\n", o.proto, o.addr, err)
		return callNoAnswer
	}
	a.print(stdout)
	if a.status >= 200 && a.status < 400 {
		return callOK
	}
	return callStatus
}

// request builds the CGI variables and the body of the request.
func (o *callOptions) request() (map[string]string, []byte, error) {
	if !strings.HasPrefix(o.target, "/") {
		return nil, nil, fmt.Errorf("the target %q must start with /", o.target)
	}
	rawPath, query, _ := strings.Cut(o.target, "?")
	path, err := url.PathUnescape(rawPath)
	if err != nil {
		return nil, nil, fmt.Errorf("the target's path: %w", err)
	}
	body, err := o.body()
	if err != nil {
		return nil, nil, err
	}
	method := o.method
	if method == "" {
		method = http.MethodGet
		if body != nil {
			method = http.MethodPost
		}
	}
	env := map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1",
		"SERVER_SOFTWARE":   "cgiref-call",
		"SERVER_PROTOCOL":   "HTTP/1.1",
		"SERVER_NAME":       "localhost",
		"SERVER_PORT":       "80",
		"REMOTE_ADDR":       "127.0.0.1",
		"REQUEST_METHOD":    method,
		"REQUEST_URI":       o.target,
		"SCRIPT_NAME":       "",
		"PATH_INFO":         path,
		"QUERY_STRING":      query,
		"HTTP_HOST":         "localhost",
	}
	if body != nil {
		env["CONTENT_LENGTH"] = strconv.Itoa(len(body))
	}
	for _, h := range o.headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, nil, fmt.Errorf("-H %q: want 'Name: value'", h)
		}
		key := "HTTP_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		switch key {
		case "HTTP_CONTENT_TYPE":
			key = "CONTENT_TYPE"
		case "HTTP_CONTENT_LENGTH":
			return nil, nil, errors.New("-H: Content-Length comes from -d")
		}
		value = strings.TrimSpace(value)
		if old, ok := env[key]; ok && key != "HTTP_HOST" && key != "CONTENT_TYPE" {
			value = old + ", " + value
		}
		env[key] = value
	}
	for _, p := range o.params {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, nil, fmt.Errorf("-p %q: want NAME=VALUE", p)
		}
		env[name] = value
	}
	return env, body, nil
}

// body returns the bytes -d names, nil without -d.
func (o *callOptions) body() ([]byte, error) {
	switch {
	case o.data == "":
		return nil, nil
	case o.data == "@-":
		return io.ReadAll(os.Stdin)
	case strings.HasPrefix(o.data, "@"):
		return os.ReadFile(o.data[1:])
	}
	return []byte(o.data), nil
}

// dial connects to addr (HOST:PORT or unix:PATH) with the whole exchange
// bounded by timeout.
func dial(addr string, timeout time.Duration) (net.Conn, error) {
	network := "tcp"
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, addr = "unix", p
	}
	c, err := net.DialTimeout(network, addr, timeout)
	if err != nil {
		return nil, err
	}
	if timeout > 0 {
		c.SetDeadline(time.Now().Add(timeout))
	}
	return c, nil
}

// watchedConn remembers the first read error: gofast ends its read loop
// silently on one, and a connection that ends before FCGI_END_REQUEST is a
// cut answer, never a whole one.
type watchedConn struct {
	net.Conn
	mu      sync.Mutex
	readErr error
}

func (c *watchedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil {
		c.mu.Lock()
		if c.readErr == nil {
			c.readErr = err
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *watchedConn) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readErr
}

// callFCGI sends one FastCGI responder request through gofast.
func callFCGI(addr string, env map[string]string, body []byte, timeout time.Duration, stderr io.Writer) (*callAnswer, error) {
	var wc *watchedConn
	connect := func() (net.Conn, error) {
		c, err := dial(addr, timeout)
		if err != nil {
			return nil, err
		}
		wc = &watchedConn{Conn: c}
		return wc, nil
	}
	client, err := gofast.SimpleClientFactory(connect)()
	if err != nil {
		return nil, err
	}
	defer client.Close()
	req := gofast.NewRequest(nil)
	for k, v := range env {
		req.Params[k] = v
	}
	if body != nil {
		req.Stdin = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	// gofast stops reading its output pipe at a malformed header, and its
	// reader then blocks for ever on that pipe: past the timeout, closing
	// the pipes and the connection ends the exchange.
	var timedOut atomic.Bool
	if timeout > 0 {
		stop := time.AfterFunc(timeout, func() {
			timedOut.Store(true)
			wc.Close()
			resp.Close()
		})
		defer stop.Stop()
	}
	rec := &answerWriter{a: callAnswer{header: http.Header{}}}
	parseErr := resp.WriteTo(rec, stderr)
	if timedOut.Load() {
		return nil, fmt.Errorf("answer cut short: %w", os.ErrDeadlineExceeded)
	}
	// The connection's fate first: gofast reports a cut answer, at best,
	// as a malformed one.
	if err := wc.err(); err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("connection closed before FCGI_END_REQUEST")
		}
		return nil, fmt.Errorf("answer cut short: %w", err)
	}
	if parseErr != nil {
		return nil, parseErr
	}
	if rec.a.status == 0 {
		return nil, errors.New("no answer")
	}
	if rec.a.status < 100 || rec.a.status > 999 { // gofast takes "Status: 010" for 10
		return nil, fmt.Errorf("malformed status %d", rec.a.status)
	}
	return &rec.a, nil
}

// answerWriter collects what gofast parsed from the responder's output.
type answerWriter struct{ a callAnswer }

func (w *answerWriter) Header() http.Header { return w.a.header }
func (w *answerWriter) WriteHeader(code int) {
	if w.a.status == 0 {
		w.a.status = code
	}
}
func (w *answerWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.a.body = append(w.a.body, b...)
	return len(b), nil
}

// callSCGI sends one SCGI request and reads the answer to the end of the
// connection.
func callSCGI(addr string, env map[string]string, body []byte, timeout time.Duration) (*callAnswer, error) {
	c, err := dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	req := scgiRequest(env, body)
	if _, err := c.Write(req); err != nil {
		return nil, err
	}
	return readCGIAnswer(bufio.NewReader(c))
}

// scgiRequest returns the netstring header (CONTENT_LENGTH first, then
// SCGI, then the rest in name order) followed by the body.
func scgiRequest(env map[string]string, body []byte) []byte {
	var h bytes.Buffer
	pair := func(k, v string) {
		h.WriteString(k)
		h.WriteByte(0)
		h.WriteString(v)
		h.WriteByte(0)
	}
	pair("CONTENT_LENGTH", strconv.Itoa(len(body)))
	pair("SCGI", "1")
	keys := make([]string, 0, len(env))
	for k := range env {
		if k != "CONTENT_LENGTH" && k != "SCGI" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		pair(k, env[k])
	}
	out := fmt.Appendf(nil, "%d:", h.Len())
	out = append(out, h.Bytes()...)
	out = append(out, ',')
	return append(out, body...)
}

// readCGIAnswer reads a CGI answer (a Status field, or an HTTP status line
// as some SCGI backends send) and its body to the end of r.
func readCGIAnswer(r *bufio.Reader) (*callAnswer, error) {
	a := &callAnswer{}
	tp := textproto.NewReader(r)
	if first, err := r.Peek(5); err == nil && string(first) == "HTTP/" {
		line, err := tp.ReadLine()
		if err != nil {
			return nil, err
		}
		_, status, _ := strings.Cut(line, " ")
		if a.status, a.reason, err = parseStatus(status); err != nil {
			return nil, err
		}
	}
	mh, err := tp.ReadMIMEHeader()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("connection closed before the end of the header")
		}
		return nil, fmt.Errorf("malformed header: %w", err)
	}
	a.header = http.Header(mh)
	if _, ok := a.header["Status"]; ok { // an empty one is malformed too
		if a.status, a.reason, err = parseStatus(a.header.Get("Status")); err != nil {
			return nil, err
		}
		a.header.Del("Status")
	}
	if a.status == 0 {
		a.status = http.StatusOK
		if a.header.Get("Location") != "" {
			a.status = http.StatusFound
		}
	}
	if a.body, err = io.ReadAll(r); err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	return a, nil
}

// parseStatus parses "200 OK" or "200".
func parseStatus(s string) (int, string, error) {
	code, reason, _ := strings.Cut(strings.TrimSpace(s), " ")
	n, err := strconv.Atoi(code)
	if err != nil || len(code) != 3 || n < 100 {
		return 0, "", fmt.Errorf("malformed status %q", s)
	}
	return n, reason, nil
}

// checkLength reports a body shorter or longer than a declared
// Content-Length: a cut answer must not pass for a whole one.
func (a *callAnswer) checkLength() error {
	cl := a.header.Get("Content-Length")
	if cl == "" || a.status == http.StatusNoContent || a.status == http.StatusNotModified {
		return nil
	}
	n, err := strconv.Atoi(cl)
	if err != nil {
		return fmt.Errorf("malformed Content-Length %q", cl)
	}
	if n != len(a.body) {
		return fmt.Errorf("answer cut short: Content-Length %d, body %d bytes", n, len(a.body))
	}
	return nil
}

// print writes the answer as "Status: CODE TEXT", the fields in name order,
// a blank line and the body.
func (a *callAnswer) print(w io.Writer) {
	reason := a.reason
	if reason == "" {
		reason = http.StatusText(a.status)
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Status: %d %s\n", a.status, reason)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range a.header {
			if !yield(k) {
				return
			}
		}
	}) {
		for _, v := range a.header[k] {
			fmt.Fprintf(bw, "%s: %s\n", k, v)
		}
	}
	bw.WriteString("\n")
	bw.Write(a.body)
	bw.Flush()
}
