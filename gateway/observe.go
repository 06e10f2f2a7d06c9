package gateway

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cgiref/cgiref/environ"
)

// ErrorStream says where a front end sends the requests' error streams
// (Errors(r), and the gateway's own reports such as a panic's stack).
type ErrorStream int

const (
	// ErrorsAuto picks per request: to the web server where the protocol
	// has an error stream (FastCGI), except under IIS, which turns any
	// FCGI_STDERR output into a 500 answer (its stderrMode default); to the
	// process log otherwise.
	ErrorsAuto ErrorStream = iota
	// ErrorsToWebServer sends them to the web server's error log
	// (FCGI_STDERR); under SCGI, which has no error stream, to the log.
	ErrorsToWebServer
	// ErrorsToLog sends them to the server's slog.Logger: the lines of one
	// write are one record, so a panic's stack is one record.
	ErrorsToLog
	// ErrorsDiscard drops them.
	ErrorsDiscard
)

// ParseErrorStream parses "auto", "webserver", "log" or "discard", as the
// command's -errors flag takes them.
func ParseErrorStream(s string) (ErrorStream, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return ErrorsAuto, nil
	case "webserver", "web-server", "stderr":
		return ErrorsToWebServer, nil
	case "log":
		return ErrorsToLog, nil
	case "discard", "none":
		return ErrorsDiscard, nil
	}
	return 0, fmt.Errorf("gateway: unknown error stream %q (auto, webserver, log or discard)", s)
}

// IsIIS reports whether the environ comes from IIS (SERVER_SOFTWARE
// Microsoft-IIS/...).
func IsIIS(env environ.Source) bool {
	return strings.HasPrefix(get(env, "SERVER_SOFTWARE"), "Microsoft-IIS")
}

// get returns one variable of env, "" when it is not set.
func get(env environ.Source, name string) string {
	v, _ := env.Lookup(name)
	return v
}

// RequestTarget is the request's target as the client sent it:
// REQUEST_URI when the web server passes it, else the escaped SCRIPT_NAME
// and PATH_INFO with QUERY_STRING.
func RequestTarget(env environ.Source) string {
	if uri, ok := env.Lookup("REQUEST_URI"); ok {
		return uri
	}
	t := (&url.URL{Path: get(env, "SCRIPT_NAME") + get(env, "PATH_INFO")}).EscapedPath()
	if q := get(env, "QUERY_STRING"); q != "" {
		t += "?" + q
	}
	return t
}

// RequestPath is the path of the request's target, without its query:
// REQUEST_URI's when the web server passes it, else SCRIPT_NAME and
// PATH_INFO joined.
func RequestPath(env environ.Source) string {
	if uri, ok := env.Lookup("REQUEST_URI"); ok {
		p, _, _ := strings.Cut(uri, "?")
		return p
	}
	return get(env, "SCRIPT_NAME") + get(env, "PATH_INFO")
}

// AccessRecord is one request as an access log sees it: the fields of a
// combined log line, plus the time taken and the protocol.
type AccessRecord struct {
	RemoteAddr string        // REMOTE_ADDR
	RemoteUser string        // REMOTE_USER, "" when none
	Start      time.Time     // when the request began
	Method     string        // REQUEST_METHOD
	RequestURI string        // REQUEST_URI, or SCRIPT_NAME+PATH_INFO?QUERY_STRING
	Proto      string        // SERVER_PROTOCOL
	Status     int           // the answer's status; 0 when none went out
	BodyBytes  int64         // body bytes the app wrote
	Referer    string        // HTTP_REFERER
	UserAgent  string        // HTTP_USER_AGENT
	Duration   time.Duration // from Start to the end of the answer
	Protocol   string        // "fcgi", "scgi" or "cgi"
	Outcome    string        // completed, client_gone, aborted, panicked, cut or timed_out
}

// NewAccessRecord fills an AccessRecord from an environ and a Run's Result.
func NewAccessRecord(env environ.Source, res Result, start time.Time, protocol, outcome string) AccessRecord {
	return AccessRecord{
		RemoteAddr: get(env, "REMOTE_ADDR"),
		RemoteUser: get(env, "REMOTE_USER"),
		Start:      start,
		Method:     get(env, "REQUEST_METHOD"),
		RequestURI: RequestTarget(env),
		Proto:      get(env, "SERVER_PROTOCOL"),
		Status:     res.Status,
		BodyBytes:  res.BodyBytes,
		Referer:    get(env, "HTTP_REFERER"),
		UserAgent:  get(env, "HTTP_USER_AGENT"),
		Duration:   time.Since(start),
		Protocol:   protocol,
		Outcome:    outcome,
	}
}

// CombinedLog formats the record as a combined log line (Apache's and
// nginx's "combined" format) followed by the duration in microseconds and
// the protocol.
func (a AccessRecord) CombinedLog() string {
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	var b strings.Builder
	b.WriteString(dash(a.RemoteAddr))
	b.WriteString(" - ")
	b.WriteString(dash(a.RemoteUser))
	b.WriteString(a.Start.Format(" [02/Jan/2006:15:04:05 -0700] "))
	b.WriteString(strconv.Quote(a.Method + " " + a.RequestURI + " " + a.Proto))
	fmt.Fprintf(&b, " %d %d %s %s %d %s", a.Status, a.BodyBytes,
		strconv.Quote(dash(a.Referer)), strconv.Quote(dash(a.UserAgent)), a.Duration.Microseconds(), a.Protocol)
	return b.String()
}
