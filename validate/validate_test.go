package validate

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cgiref/cgiref/environ"
	"github.com/cgiref/cgiref/gateway"
)

// baseEnv is a complete, valid environ for a GET of /.
func baseEnv() environ.Environ {
	return environ.Environ{
		"REQUEST_METHOD":  "GET",
		"SERVER_NAME":     "localhost",
		"SERVER_PORT":     "80",
		"SERVER_PROTOCOL": "HTTP/1.1",
		"SCRIPT_NAME":     "",
		"PATH_INFO":       "/",
		"QUERY_STRING":    "",
	}
}

// runGateway runs Validator(app) under gateway.NewBaseCGI and returns what
// went to stdout and stderr.
func runGateway(t *testing.T, env environ.Environ, body string, app http.HandlerFunc) (stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	h := gateway.NewBaseCGI(strings.NewReader(body), &out, &errs, env)
	_ = h.Run(Validator(app))
	return out.String(), errs.String()
}

// runRecorder runs Validator(app) directly with an httptest recorder and
// returns the recorder and the *Error the handler panicked with, if any.
func runRecorder(t *testing.T, req *http.Request, app http.HandlerFunc) (rec *httptest.ResponseRecorder, verr *Error) {
	t.Helper()
	rec = httptest.NewRecorder()
	defer func() {
		if p := recover(); p != nil {
			e, ok := p.(*Error)
			if !ok {
				t.Fatalf("panic with %T %v, want *validate.Error", p, p)
			}
			verr = e
		}
	}()
	Validator(app).ServeHTTP(rec, req)
	return rec, nil
}

func textApp(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// appCases are the response rules, run both under a gateway and with a
// recorder. rule "" means no violation.
var appCases = []struct {
	name   string
	method string
	app    http.HandlerFunc
	rule   string
}{
	{"ok", "GET", textApp(200, "hi"), ""},
	{"ok 404", "GET", textApp(404, "no"), ""},
	{"status 99", "GET", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(99) }, "status"},
	{"status 1000", "GET", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(1000) }, "status"},
	{"status 999", "GET", textApp(999, "odd"), ""},
	{"write header twice", "GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(200)
		w.WriteHeader(404)
	}, "write-header-twice"},
	{"write header after write", "GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "x")
		w.WriteHeader(500)
	}, "write-header-twice"},
	{"interim then final", "GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</s.css>; rel=preload")
		w.WriteHeader(103)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(200)
		io.WriteString(w, "x")
	}, ""},
	{"no content type", "GET", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "x") }, "content-type"},
	{"no content type, nothing written", "GET", func(w http.ResponseWriter, r *http.Request) {}, "content-type"},
	{"content type nil slice", "GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil
		io.WriteString(w, "x")
	}, "content-type"},
	{"content type on 204", "GET", textApp(204, ""), "content-type"},
	{"content type on 304", "GET", textApp(304, ""), "content-type"},
	{"204 bare", "GET", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, ""},
	{"304 bare", "GET", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(304) }, ""},
	{"flush without content type", "GET", func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).Flush()
	}, "content-type"},
	{"hop by hop", "GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		textApp(200, "x")(w, r)
	}, "hop-by-hop"},
	{"hop by hop lower case key", "GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["transfer-encoding"] = []string{"chunked"}
		textApp(200, "x")(w, r)
	}, "hop-by-hop"},
	{"bad name", "GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["X Y"] = []string{"1"}
		textApp(200, "x")(w, r)
	}, "header-field"},
	{"bad value", "GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["X-Y"] = []string{"a\r\nSet-Cookie: evil=1"}
		textApp(200, "x")(w, r)
	}, "header-field"},
	{"status field", "GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Status", "200 OK")
		textApp(200, "x")(w, r)
	}, "status-field"},
	{"authorizer variable", "GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Variable-AUTH_USER"] = []string{"tester"}
		textApp(200, "x")(w, r)
	}, ""},
	{"content length ok", "GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		textApp(200, "hello")(w, r)
	}, ""},
	{"content length short", "GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		textApp(200, "hel")(w, r)
	}, "content-length"},
	{"content length long", "GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		textApp(200, "hello world")(w, r)
	}, "content-length"},
	{"content length not a number", "GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "five")
		textApp(200, "hello")(w, r)
	}, "content-length"},
	{"content length on HEAD", "HEAD", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		textApp(200, "")(w, r)
	}, ""},
	{"content length on 304", "GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		w.WriteHeader(304)
	}, ""},
	{"read from past content length", "GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "3")
		w.(io.ReaderFrom).ReadFrom(strings.NewReader("abcdef"))
	}, "content-length"},
	{"read from exact", "GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "6")
		io.Copy(w, strings.NewReader("abcdef"))
	}, ""},
}

func TestAppRulesGateway(t *testing.T) {
	for _, tc := range appCases {
		t.Run(tc.name, func(t *testing.T) {
			env := baseEnv()
			env["REQUEST_METHOD"] = tc.method
			out, errs := runGateway(t, env, "", tc.app)
			if tc.rule == "" {
				if strings.Contains(errs, "validate:") && !strings.Contains(errs, "validate: warning") {
					t.Fatalf("unexpected violation: %s", errs)
				}
				if strings.HasPrefix(out, "Status: 500") {
					t.Fatalf("500 answer: %q\nstderr: %s", out, errs)
				}
				return
			}
			if want := "validate: " + tc.rule + ":"; !strings.Contains(errs, want) {
				t.Fatalf("stderr %q does not report %q", errs, want)
			}
		})
	}
}

func TestAppRulesRecorder(t *testing.T) {
	for _, tc := range appCases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/", nil)
			_, verr := runRecorder(t, req, tc.app)
			got := ""
			if verr != nil {
				got = verr.Rule
			}
			if got != tc.rule {
				t.Fatalf("rule %q (%v), want %q", got, verr, tc.rule)
			}
		})
	}
}

// TestViolationBeforeCommit checks that the gateway turns a violation into
// its error answer.
func TestViolationBeforeCommit(t *testing.T) {
	out, errs := runGateway(t, baseEnv(), "", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "no type")
	})
	if !strings.HasPrefix(out, "Status: 500 Internal Server Error\r\n") {
		t.Errorf("stdout %q, want the 500 answer", out)
	}
	if strings.Contains(out, "no type") {
		t.Errorf("stdout %q holds the app's body", out)
	}
	if !strings.Contains(errs, "validate: content-type: no Content-Type in a 200 answer") {
		t.Errorf("stderr %q", errs)
	}
}

func TestEnvironRules(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		del  []string
		rule string
	}{
		{"valid", nil, nil, ""},
		{"no REQUEST_METHOD", nil, []string{"REQUEST_METHOD"}, "environ-missing"},
		{"no SERVER_NAME", nil, []string{"SERVER_NAME"}, "environ-missing"},
		{"no SERVER_PORT", nil, []string{"SERVER_PORT"}, "environ-missing"},
		{"no SERVER_PROTOCOL", nil, []string{"SERVER_PROTOCOL"}, "environ-missing"},
		{"SCRIPT_NAME slash", map[string]string{"SCRIPT_NAME": "/"}, nil, "script-name"},
		{"SCRIPT_NAME relative", map[string]string{"SCRIPT_NAME": "app"}, nil, "script-name"},
		{"SCRIPT_NAME mounted", map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": ""}, nil, ""},
		{"PATH_INFO relative", map[string]string{"PATH_INFO": "x"}, nil, "path-info"},
		{"PATH_INFO absent", map[string]string{"SCRIPT_NAME": "/cgi-bin/x"}, []string{"PATH_INFO"}, ""},
		{"both empty", map[string]string{"PATH_INFO": ""}, nil, "path-empty"},
		{"both absent", nil, []string{"PATH_INFO", "SCRIPT_NAME"}, "path-empty"},
		{"CONTENT_LENGTH empty", map[string]string{"CONTENT_LENGTH": ""}, nil, ""},
		{"CONTENT_LENGTH 0", map[string]string{"CONTENT_LENGTH": "0"}, nil, ""},
		{"CONTENT_LENGTH 12", map[string]string{"CONTENT_LENGTH": "12"}, nil, ""},
		{"CONTENT_LENGTH -1", map[string]string{"CONTENT_LENGTH": "-1"}, nil, "content-length-environ"},
		{"CONTENT_LENGTH +5", map[string]string{"CONTENT_LENGTH": "+5"}, nil, "content-length-environ"},
		{"CONTENT_LENGTH space", map[string]string{"CONTENT_LENGTH": " 5"}, nil, "content-length-environ"},
		{"CONTENT_LENGTH word", map[string]string{"CONTENT_LENGTH": "five"}, nil, "content-length-environ"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := baseEnv()
			for k, v := range tc.set {
				env[k] = v
			}
			for _, k := range tc.del {
				delete(env, k)
			}
			got := ""
			func() {
				defer func() {
					if p := recover(); p != nil {
						got = p.(*Error).Rule
					}
				}()
				checkEnviron(env, &reporter{w: io.Discard})
			}()
			if got != tc.rule {
				t.Fatalf("rule %q, want %q", got, tc.rule)
			}
		})
	}
}

// TestEnvironRulesGateway runs the environ rules the gateway lets through
// to the app.
func TestEnvironRulesGateway(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		rule string
	}{
		{"SCRIPT_NAME slash", map[string]string{"SCRIPT_NAME": "/"}, "script-name"},
		{"SCRIPT_NAME relative", map[string]string{"SCRIPT_NAME": "app"}, "script-name"},
		{"PATH_INFO relative", map[string]string{"PATH_INFO": "x"}, "path-info"},
		{"both empty", map[string]string{"PATH_INFO": ""}, "path-empty"},
		{"no SERVER_NAME", map[string]string{"SERVER_NAME": "\x00delete"}, "environ-missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := baseEnv()
			for k, v := range tc.set {
				if v == "\x00delete" {
					delete(env, k)
					continue
				}
				env[k] = v
			}
			called := false
			out, errs := runGateway(t, env, "", func(w http.ResponseWriter, r *http.Request) {
				called = true
				textApp(200, "x")(w, r)
			})
			if called {
				t.Error("the app was called")
			}
			if !strings.HasPrefix(out, "Status: 500 ") {
				t.Errorf("stdout %q, want a 500 answer", out)
			}
			if want := "validate: " + tc.rule + ":"; !strings.Contains(errs, want) {
				t.Errorf("stderr %q does not report %q", errs, want)
			}
		})
	}
}

func TestURLScheme(t *testing.T) {
	req := httptest.NewRequest("GET", "/", nil)
	for _, tc := range []struct {
		scheme, rule string
	}{{"http", ""}, {"https", ""}, {"ftp", "url-scheme"}, {"", "url-scheme"}} {
		ctx := gateway.NewContext(context.Background(), baseEnv(), io.Discard, gateway.Flags{Scheme: tc.scheme})
		_, verr := runRecorder(t, req.WithContext(ctx), textApp(200, "x"))
		got := ""
		if verr != nil {
			got = verr.Rule
		}
		if got != tc.rule {
			t.Errorf("scheme %q: rule %q, want %q", tc.scheme, got, tc.rule)
		}
	}
}

func TestWarningsGateway(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		del  string
		app  http.HandlerFunc
		want string // "" means no warning at all
	}{
		{"none", nil, "", textApp(200, "x"), ""},
		{"HTTP_CONTENT_TYPE", map[string]string{"HTTP_CONTENT_TYPE": "text/plain"}, "", textApp(200, "x"),
			"validate: warning: http-content-type: the environ has HTTP_CONTENT_TYPE"},
		{"HTTP_CONTENT_LENGTH", map[string]string{"HTTP_CONTENT_LENGTH": "0"}, "", textApp(200, "x"),
			"validate: warning: http-content-length: the environ has HTTP_CONTENT_LENGTH"},
		{"no QUERY_STRING", nil, "QUERY_STRING", textApp(200, "x"),
			"validate: warning: query-string: the environ has no QUERY_STRING"},
		{"unknown method", map[string]string{"REQUEST_METHOD": "CONNECT"}, "", textApp(200, "x"),
			`validate: warning: method: unknown REQUEST_METHOD "CONNECT"`},
		{"header name", nil, "", func(w http.ResponseWriter, r *http.Request) {
			w.Header()["X.Dotted"] = []string{"1"}
			textApp(200, "x")(w, r)
		}, `validate: warning: header-name: field name "X.Dotted"`},
		{"header name trailing dash", nil, "", func(w http.ResponseWriter, r *http.Request) {
			w.Header()["X-"] = []string{"1"}
			textApp(200, "x")(w, r)
		}, `validate: warning: header-name: field name "X-"`},
		{"tab in value", nil, "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Tab", "a\tb")
			textApp(200, "x")(w, r)
		}, `validate: warning: header-value: field "X-Tab" has a TAB`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := baseEnv()
			for k, v := range tc.set {
				env[k] = v
			}
			delete(env, tc.del)
			out, errs := runGateway(t, env, "", tc.app)
			if !strings.HasPrefix(out, "Status: 200 OK\r\n") {
				t.Errorf("stdout %q, want a 200 answer", out)
			}
			if tc.want == "" {
				if errs != "" {
					t.Errorf("stderr %q, want nothing", errs)
				}
				return
			}
			if !strings.Contains(errs, tc.want) {
				t.Errorf("stderr %q does not hold %q", errs, tc.want)
			}
		})
	}
}

// TestWarningOutsideGateway checks that warnings go to slog.Default when
// there is no gateway error stream.
func TestWarningOutsideGateway(t *testing.T) {
	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(old)

	req := httptest.NewRequest("PROPFIND", "/", nil)
	rec, verr := runRecorder(t, req, textApp(200, "x"))
	if verr != nil {
		t.Fatal(verr)
	}
	if rec.Body.String() != "x" {
		t.Errorf("body %q", rec.Body.String())
	}
	if got := logs.String(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, "rule=method") {
		t.Errorf("log %q, want a warning for the method", got)
	}
}

func TestInputLength(t *testing.T) {
	tests := []struct {
		name   string
		length string
		body   string
		rule   string
		read   string
	}{
		{"exact", "5", "hello", "", "hello"},
		{"body longer", "3", "hello", "input-length", "hel"},
		{"no length", "", "hello", "", "hello"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
			req.Header.Del("Content-Length")
			if tc.length != "" {
				req.Header.Set("Content-Length", tc.length)
			}
			var read []byte
			var readErr error
			_, verr := runRecorder(t, req, func(w http.ResponseWriter, r *http.Request) {
				read, readErr = io.ReadAll(r.Body)
				r.Body.Close()
				textApp(200, "ok")(w, r)
			})
			if string(read) != tc.read {
				t.Errorf("read %q, want %q", read, tc.read)
			}
			got := ""
			if verr != nil {
				got = verr.Rule
			}
			if got != tc.rule {
				t.Fatalf("rule %q, want %q", got, tc.rule)
			}
			if tc.rule != "" {
				var e *Error
				if !errors.As(readErr, &e) || e.Rule != tc.rule {
					t.Errorf("read error %v, want the violation", readErr)
				}
			} else if readErr != nil {
				t.Errorf("read error %v", readErr)
			}
		})
	}
}

// TestInputGateway checks that a body read under a gateway, where it is
// exactly CONTENT_LENGTH bytes, passes.
func TestInputGateway(t *testing.T) {
	env := baseEnv()
	env["REQUEST_METHOD"] = "POST"
	env["CONTENT_LENGTH"] = "5"
	env["CONTENT_TYPE"] = "text/plain"
	out, errs := runGateway(t, env, "hello, and more", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		io.Copy(w, r.Body)
	})
	want := "Status: 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"
	if out != want || errs != "" {
		t.Errorf("stdout %q, stderr %q; want %q", out, errs, want)
	}
}

func TestWriteAfterReturn(t *testing.T) {
	var logs bytes.Buffer
	env := baseEnv()
	kept := make(chan http.ResponseWriter, 1)
	var out bytes.Buffer
	h := gateway.NewBaseCGI(strings.NewReader(""), &out, &logs, env)
	err := h.Run(Validator(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		textApp(200, "done")(w, r)
		kept <- w
	})))
	if err != nil {
		t.Fatal(err)
	}
	w := <-kept
	n, werr := w.Write([]byte("late"))
	var e *Error
	if n != 0 || !errors.As(werr, &e) || e.Rule != "write-after-return" {
		t.Errorf("Write = %d, %v; want 0 and a write-after-return violation", n, werr)
	}
	if _, rerr := w.(io.ReaderFrom).ReadFrom(strings.NewReader("late")); !errors.As(rerr, &e) {
		t.Errorf("ReadFrom error %v, want the violation", rerr)
	}
	w.WriteHeader(500)
	w.(http.Flusher).Flush()
	if strings.Contains(out.String(), "late") {
		t.Errorf("the late write went out: %q", out.String())
	}
	if got := strings.Count(logs.String(), "validate: write-after-return:"); got != 4 {
		t.Errorf("stderr %q: %d reports, want 4", logs.String(), got)
	}
}

func TestResponseController(t *testing.T) {
	req := httptest.NewRequest("GET", "/", nil)
	var flushErr, deadlineErr error
	rec, verr := runRecorder(t, req, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "first")
		rc := http.NewResponseController(w)
		flushErr = rc.Flush()
		deadlineErr = rc.SetWriteDeadline(time.Time{})
	})
	if verr != nil {
		t.Fatal(verr)
	}
	if flushErr != nil || !rec.Flushed {
		t.Errorf("Flush: %v, recorder flushed %v", flushErr, rec.Flushed)
	}
	if !errors.Is(deadlineErr, http.ErrNotSupported) {
		t.Errorf("SetWriteDeadline: %v, want http.ErrNotSupported from the recorder", deadlineErr)
	}
	if _, ok := any(&responseWriter{}).(interface{ Unwrap() http.ResponseWriter }); !ok {
		t.Error("no Unwrap method")
	}
}

func TestFlushGateway(t *testing.T) {
	out, errs := runGateway(t, baseEnv(), "", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		io.WriteString(w, "second\n")
	})
	want := "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst\nsecond\n"
	if out != want || errs != "" {
		t.Errorf("stdout %q, stderr %q; want %q", out, errs, want)
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Rule: "status", Detail: "WriteHeader(99)"}
	if got, want := e.Error(), "validate: status: WriteHeader(99)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestPanicPassesThrough checks that an app's own panic is not replaced.
func TestPanicPassesThrough(t *testing.T) {
	defer func() {
		if p := recover(); p != "boom" {
			t.Errorf("recovered %v, want the app's panic", p)
		}
	}()
	Validator(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
}
