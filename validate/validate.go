package validate

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/cgiref/cgiref/environ"
	"github.com/cgiref/cgiref/gateway"
)

// Error is the panic value of a violation. Rule is the name of the rule that
// was broken (see the package documentation for the list); Detail describes
// what was seen.
type Error struct {
	Rule   string
	Detail string
}

// Error returns "validate: <rule>: <detail>".
func (e *Error) Error() string {
	return "validate: " + e.Rule + ": " + e.Detail
}

// violation returns a *Error for rule with a formatted detail.
func violation(rule, format string, args ...any) *Error {
	return &Error{Rule: rule, Detail: fmt.Sprintf(format, args...)}
}

// Validator returns a handler that checks the request environ, then calls
// app with a request and a ResponseWriter that check what app does. A
// violation panics with a *Error; a warning is written to the request's
// error stream. See the package documentation for every rule. A nil app
// means http.DefaultServeMux.
func Validator(app http.Handler) http.Handler {
	if app == nil {
		app = http.DefaultServeMux
	}
	return &validator{app: app}
}

type validator struct {
	app http.Handler
}

func (v *validator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rep := &reporter{}
	env := gateway.Environ(r)
	if env != nil {
		rep.w = gateway.Errors(r)
	} else {
		env = environ.FromRequest(r)
	}
	if s := gateway.RequestFlags(r).Scheme; s != "http" && s != "https" {
		panic(violation("url-scheme", "the request scheme is %q, not http or https", s))
	}
	length := checkEnviron(env, rep)

	rw := &responseWriter{w: w, rep: rep, head: r.Method == http.MethodHead}
	r2 := new(http.Request)
	*r2 = *r
	var in *inputReader
	if r.Body != nil && length >= 0 {
		in = &inputReader{rc: r.Body, limit: length}
		r2.Body = in
	}
	defer rw.close()
	v.app.ServeHTTP(rw, r2)
	rw.finish()
	if in != nil {
		if err := in.violation(); err != nil {
			panic(err)
		}
	}
}

// reporter writes warnings and late violations for one request.
type reporter struct {
	w io.Writer // gateway.Errors(r); nil outside a gateway: slog.Default()
}

// warn reports questionable but legal behaviour.
func (p *reporter) warn(rule, format string, args ...any) {
	detail := fmt.Sprintf(format, args...)
	if p.w == nil {
		slog.Default().Warn("validate: warning", "rule", rule, "detail", detail)
		return
	}
	fmt.Fprintf(p.w, "validate: warning: %s: %s\n", rule, detail)
}

// late reports a violation that cannot panic (see the package documentation).
func (p *reporter) late(e *Error) {
	if p.w == nil {
		slog.Default().Error("validate", "rule", e.Rule, "detail", e.Detail)
		return
	}
	fmt.Fprintf(p.w, "%s\n", e.Error())
}

// knownMethods are the methods wsgiref.validate accepts without a warning.
var knownMethods = [...]string{"GET", "HEAD", "POST", "OPTIONS", "PATCH", "PUT", "DELETE", "TRACE"}

// checkEnviron panics on an environ violation, warns about questionable
// variables, and returns CONTENT_LENGTH (-1 when it is absent or empty).
func checkEnviron(env environ.Environ, rep *reporter) int64 {
	for _, k := range [...]string{"REQUEST_METHOD", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL"} {
		if _, ok := env[k]; !ok {
			panic(violation("environ-missing", "the environ has no %s", k))
		}
	}
	for _, k := range [...]string{"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"} {
		if _, ok := env[k]; ok {
			rule := strings.ReplaceAll(strings.ToLower(k), "_", "-")
			rep.warn(rule, "the environ has %s (%s counts)", k, strings.TrimPrefix(k, "HTTP_"))
		}
	}
	if _, ok := env["QUERY_STRING"]; !ok {
		rep.warn("query-string", "the environ has no QUERY_STRING")
	}
	checkMethod(env["REQUEST_METHOD"], rep)
	checkPaths(env["SCRIPT_NAME"], env["PATH_INFO"])
	return checkLength(env["CONTENT_LENGTH"])
}

func checkMethod(m string, rep *reporter) {
	for _, k := range knownMethods {
		if m == k {
			return
		}
	}
	rep.warn("method", "unknown REQUEST_METHOD %q", m)
}

func checkPaths(script, pathInfo string) {
	switch {
	case script == "/":
		panic(violation("script-name", `SCRIPT_NAME cannot be "/"; it should be "" and PATH_INFO "/"`))
	case script != "" && script[0] != '/':
		panic(violation("script-name", "SCRIPT_NAME %q does not start with /", script))
	case pathInfo != "" && pathInfo[0] != '/':
		panic(violation("path-info", "PATH_INFO %q does not start with /", pathInfo))
	case script == "" && pathInfo == "":
		panic(violation("path-empty", `SCRIPT_NAME and PATH_INFO are both empty; PATH_INFO should be "/"`))
	}
}

// checkLength returns CONTENT_LENGTH, or -1 when it is empty.
func checkLength(s string) int64 {
	if s == "" {
		return -1
	}
	n, ok := parseDecimal(s)
	if !ok {
		panic(violation("content-length-environ", "CONTENT_LENGTH %q is not a non-negative integer", s))
	}
	return n
}

// parseDecimal parses plain decimal digits (no sign, no spaces).
func parseDecimal(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
