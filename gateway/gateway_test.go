package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cgiref/cgiref/environ"
	"github.com/cgiref/cgiref/headers"
)

// baseEnv is a minimal valid environ for a GET of /.
func baseEnv(extra ...string) environ.Environ {
	env := environ.Environ{
		"REQUEST_METHOD":  "GET",
		"SERVER_NAME":     "example.org",
		"SERVER_PORT":     "80",
		"SERVER_PROTOCOL": "HTTP/1.1",
		"SCRIPT_NAME":     "",
		"PATH_INFO":       "/",
		"QUERY_STRING":    "",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "\x00delete" {
			delete(env, extra[i])
			continue
		}
		env[extra[i]] = extra[i+1]
	}
	return env
}

type result struct {
	stdout, stderr string
	err            error
}

func runApp(h *Handler, app http.HandlerFunc) result {
	var out, errs bytes.Buffer
	if h.Stdout == nil {
		h.Stdout = &out
	}
	if h.Stderr == nil {
		h.Stderr = &errs
	}
	err := h.Run(app)
	return result{stdout: out.String(), stderr: errs.String(), err: err}
}

func cgi(env environ.Environ, body string) *Handler {
	var stdin io.Reader
	if body != "" {
		stdin = strings.NewReader(body)
	}
	return NewBaseCGI(stdin, nil, nil, env)
}

const errorPage = "Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 59\r\n\r\nA server error occurred.  Please contact the administrator."

// TestCGIGolden checks the exact bytes of CGI answers, one rule a case.
func TestCGIGolden(t *testing.T) {
	tests := []struct {
		name string
		env  environ.Environ
		app  http.HandlerFunc
		want string
	}{
		{"hello", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "Hello")
		}, "Status: 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nHello"},
		{"empty body gets Content-Length 0", baseEnv(), func(w http.ResponseWriter, r *http.Request) {},
			"Status: 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{"empty write still Content-Length 0", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.Write(nil)
		}, "Status: 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{"declared Content-Length kept without body", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "12345")
		}, "Status: 200 OK\r\nContent-Length: 12345\r\n\r\n"},
		{"content type sniffed", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<html><body>x</body></html>")
		}, "Status: 200 OK\r\nContent-Length: 27\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>x</body></html>"},
		{"nil Content-Type suppresses sniffing", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			io.WriteString(w, "<html>")
		}, "Status: 200 OK\r\nContent-Length: 6\r\n\r\n<html>"},
		{"no sniffing with Content-Encoding", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			io.WriteString(w, "<html>")
		}, "Status: 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 6\r\n\r\n<html>"},
		{"status and reason", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "nope")
		}, "Status: 404 Not Found\r\nContent-Length: 4\r\nContent-Type: text/plain\r\n\r\nnope"},
		{"unknown status", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(599)
		}, "Status: 599 Unknown\r\nContent-Length: 0\r\n\r\n"},
		{"204 has no Content-Length", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
			if _, err := w.Write([]byte("x")); err != http.ErrBodyNotAllowed {
				panic(fmt.Sprintf("write on 204: %v", err))
			}
		}, "Status: 204 No Content\r\n\r\n"},
		{"304 has no Content-Length or Content-Type", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"x"`)
			w.WriteHeader(http.StatusNotModified)
		}, "Status: 304 Not Modified\r\nEtag: \"x\"\r\n\r\n"},
		{"1xx is interim and not sent", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusContinue)
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusAccepted)
		}, "Status: 202 Accepted\r\nContent-Length: 0\r\n\r\n"},
		{"101 cannot pass a gateway", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Upgrade", "websocket")
			w.WriteHeader(http.StatusSwitchingProtocols)
			if _, err := w.Write([]byte("x")); err == nil {
				t.Error("a write after 101 succeeded")
			}
		}, errorPage},
		{"second WriteHeader ignored", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			w.WriteHeader(http.StatusTeapot)
		}, "Status: 201 Created\r\nContent-Length: 0\r\n\r\n"},
		{"names sorted, values in order", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("X-Zeta", "1")
			w.Header().Add("Set-Cookie", "b=2")
			w.Header().Add("Set-Cookie", "a=1")
			w.Header().Add("Content-Type", "text/plain")
			w.Header().Add("Accept-Ranges", "none")
		}, "Status: 200 OK\r\nAccept-Ranges: none\r\nContent-Length: 0\r\nContent-Type: text/plain\r\nSet-Cookie: b=2\r\nSet-Cookie: a=1\r\nX-Zeta: 1\r\n\r\n"},
		{"directly assigned key keeps its case", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Variable-AUTH_USER"] = []string{"tester"}
			w.Header()["Vary"] = []string{"Accept"}
		}, "Status: 200 OK\r\nContent-Length: 0\r\nVariable-AUTH_USER: tester\r\nVary: Accept\r\n\r\n"},
		{"HEAD sends no body, Content-Length what was written", baseEnv("REQUEST_METHOD", "HEAD"), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "Hello")
		}, "Status: 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n"},
		{"HEAD that writes nothing has no Content-Length", baseEnv("REQUEST_METHOD", "HEAD"), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
		}, "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n"},
		{"Flush commits without Content-Length", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			io.WriteString(w, "b")
		}, "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nab"},
		{"Flush before any write commits 200", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
		}, "Status: 200 OK\r\n\r\n"},
		{"Status field dropped", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Status", "404 Not Found")
		}, "Status: 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{"hop-by-hop fields dropped", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			w.Header().Set("Transfer-Encoding", "chunked")
			w.Header().Set("Keep-Alive", "timeout=5")
			w.Header().Set("Trailer", "X")
		}, "Status: 200 OK\r\nContent-Length: 0\r\nTrailer: X\r\n\r\n"},
		{"bad field value is an app error", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Bad", "a\nb")
			io.WriteString(w, "ok")
		}, errorPage},
		{"bad field name is an app error", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Bad Name"] = []string{"x"}
		}, errorPage},
		{"panic before commit gives the error answer", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-A", "1")
			io.WriteString(w, "partial")
			panic("boom")
		}, errorPage},
		{"panic after commit stops the output", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic("boom")
		}, "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\npartial"},
		{"abort before commit writes nothing", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "partial")
			panic(http.ErrAbortHandler)
		}, ""},
		{"HEAD error answer has no body", baseEnv("REQUEST_METHOD", "HEAD"), func(w http.ResponseWriter, r *http.Request) {
			panic("boom")
		}, "Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 59\r\n\r\n"},
		{"bad CONTENT_LENGTH is a 400", baseEnv("REQUEST_METHOD", "POST", "CONTENT_LENGTH", "+5"), func(w http.ResponseWriter, r *http.Request) {
			panic("the app must not be called")
		}, "Status: 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 16\r\n\r\n400 Bad Request\n"},
		{"missing REQUEST_METHOD is a 400", baseEnv("REQUEST_METHOD", "\x00delete"), func(w http.ResponseWriter, r *http.Request) {
			panic("the app must not be called")
		}, "Status: 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 16\r\n\r\n400 Bad Request\n"},
		{"bad SERVER_PROTOCOL is a 400", baseEnv("SERVER_PROTOCOL", "HTTP/x"), func(w http.ResponseWriter, r *http.Request) {
			panic("the app must not be called")
		}, "Status: 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 16\r\n\r\n400 Bad Request\n"},
		{"CGI mode writes Status even for HTTP/0.9", baseEnv("SERVER_PROTOCOL", "HTTP/0.9"), func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "x")
		}, "Status: 200 OK\r\nContent-Length: 1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nx"},
		{"WriteString and ReadFrom", baseEnv(), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "ab")
			w.(io.ReaderFrom).ReadFrom(strings.NewReader("cd"))
		}, "Status: 200 OK\r\nContent-Length: 4\r\nContent-Type: text/plain\r\n\r\nabcd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runApp(cgi(tt.env, ""), tt.app)
			if got.stdout != tt.want {
				t.Errorf("stdout\n got %q\nwant %q\nstderr: %s", got.stdout, tt.want, got.stderr)
			}
			got = runApp(NewBaseCGI(nil, nil, nil, nil).withPairs(tt.env), tt.app)
			if got.stdout != tt.want {
				t.Errorf("stdout from Pairs\n got %q\nwant %q\nstderr: %s", got.stdout, tt.want, got.stderr)
			}
		})
	}
}

// withPairs gives h env as Pairs (in the order of their names) instead of
// an Environ.
func (h *Handler) withPairs(env environ.Environ) *Handler {
	h.Environ, h.Pairs = nil, environ.Pairs{}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		h.Pairs = append(h.Pairs, environ.Pair{Name: k, Value: env[k]})
	}
	return h
}

// TestPairsEnviron: from Pairs, the app sees the Environ they stand for
// (made once, however many goroutines ask) and the same flags.
func TestPairsEnviron(t *testing.T) {
	h := NewBaseCGI(nil, io.Discard, io.Discard, nil)
	h.Pairs = environ.Pairs{
		{Name: "REQUEST_METHOD", Value: "GET"}, {Name: "SERVER_NAME", Value: "h"}, {Name: "HTTPS", Value: "on"},
		{Name: "SCRIPT_NAME", Value: "/a"}, {Name: "HTTP_ACCEPT", Value: "x"}, {Name: "SCRIPT_NAME", Value: "/b"},
		{Name: "HTTP_ACCEPT", Value: "y"},
	}
	want := environ.Environ{"REQUEST_METHOD": "GET", "SERVER_NAME": "h", "HTTPS": "on", "SCRIPT_NAME": "/b", "HTTP_ACCEPT": "x, y"}
	var envs [8]environ.Environ
	var flags Flags
	err := h.Run(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var wg sync.WaitGroup
		for i := range envs {
			wg.Go(func() { envs[i] = Environ(r) })
		}
		wg.Wait()
		flags = RequestFlags(r)
		if got := r.Header.Get("Accept"); got != "x, y" {
			t.Errorf("Accept = %q, want the repeated field joined", got)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	for i, env := range envs {
		if !maps.Equal(env, want) {
			t.Errorf("Environ(r) = %v, want %v", env, want)
		}
		if reflect.ValueOf(env).UnsafePointer() != reflect.ValueOf(envs[0]).UnsafePointer() {
			t.Errorf("call %d made another Environ", i)
		}
	}
	if flags.Scheme != "https" || !flags.Multithread {
		t.Errorf("RequestFlags = %+v", flags)
	}
}

// TestRunResult checks what Run returns and what goes to Stderr.
func TestRunResult(t *testing.T) {
	tests := []struct {
		name       string
		app        http.HandlerFunc
		wantErr    error // nil: Run returns nil; errAny: some error
		wantStderr []string
		noStderr   bool
	}{
		{"complete answer", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "x") }, nil, nil, true},
		{"panic before commit", func(w http.ResponseWriter, r *http.Request) { panic("kaboom") }, nil,
			[]string{"gateway: panic serving GET /: kaboom", "goroutine ", "gateway_test.go"}, false},
		{"panic after commit", func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
			panic("late")
		}, errAny, []string{"panic serving GET /: late"}, false},
		{"abort before commit", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }, http.ErrAbortHandler, nil, true},
		{"abort after commit", func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}, http.ErrAbortHandler, nil, true},
		{"bad field", func(w http.ResponseWriter, r *http.Request) { w.Header().Set("X", "a\rb") }, nil, []string{"gateway: GET /:"}, false},
		{"hop-by-hop warning", func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Upgrade", "h2c") }, nil,
			[]string{"dropped hop-by-hop field Upgrade"}, false},
		{"Status warning", func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Status", "500") }, nil,
			[]string{"dropped the Status field"}, false},
		{"short body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "12345")
		}, ErrShortBody, []string{"wrote 5 of the 10 bytes its Content-Length declared"}, false},
		{"short body flushed", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "12345")
			w.(http.Flusher).Flush()
		}, ErrShortBody, nil, false},
		{"exact body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "12345")
		}, nil, nil, true},
		{"invalid Content-Length dropped", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "ten")
			io.WriteString(w, "12345")
		}, nil, []string{`dropped the invalid Content-Length "ten"`}, false},
		{"101", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusSwitchingProtocols) }, nil,
			[]string{"101 Switching Protocols, which cannot pass through a gateway"}, false},
		{"superfluous WriteHeader warning", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			w.WriteHeader(500)
		}, nil, []string{"superfluous WriteHeader(500)"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runApp(cgi(baseEnv(), ""), tt.app)
			switch {
			case tt.wantErr == nil && got.err != nil:
				t.Errorf("Run = %v, want nil", got.err)
			case tt.wantErr == errAny && got.err == nil:
				t.Errorf("Run = nil, want an error")
			case tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(got.err, tt.wantErr):
				t.Errorf("Run = %v, want %v", got.err, tt.wantErr)
			}
			if tt.noStderr && got.stderr != "" {
				t.Errorf("stderr = %q, want nothing", got.stderr)
			}
			for _, s := range tt.wantStderr {
				if !strings.Contains(got.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, got.stderr)
				}
			}
		})
	}
}

var errAny = errors.New("any error")

func TestCustomErrorAnswer(t *testing.T) {
	h := cgi(baseEnv(), "")
	h.ErrorStatus = http.StatusServiceUnavailable
	h.ErrorHeaders = []headers.Field{{Name: "Content-Type", Value: "text/html"}, {Name: "Retry-After", Value: "5"}}
	h.ErrorBody = []byte("<b>down</b>")
	got := runApp(h, func(w http.ResponseWriter, r *http.Request) { panic("x") })
	want := "Status: 503 Service Unavailable\r\nContent-Type: text/html\r\nRetry-After: 5\r\nContent-Length: 11\r\n\r\n<b>down</b>"
	if got.stdout != want {
		t.Errorf("got %q\nwant %q", got.stdout, want)
	}
}

var dateLine = regexp.MustCompile(`^(HTTP/[^\r]*\r\n)Date: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n`)

// TestOriginGolden checks origin-server answers; the Date line is checked
// for its format and then replaced with DATE.
func TestOriginGolden(t *testing.T) {
	hello := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "Hello")
	}
	tests := []struct {
		name     string
		env      environ.Environ
		version  string
		software string
		app      http.HandlerFunc
		want     string
	}{
		{"HTTP/1.0 default", baseEnv(), "", "", hello,
			"HTTP/1.0 200 OK\r\nDATE\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nHello"},
		{"HTTP/1.1 with Server", baseEnv(), "1.1", "Demo/1.0", hello,
			"HTTP/1.1 200 OK\r\nDATE\r\nServer: Demo/1.0\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nHello"},
		{"app's own Date and Server win", baseEnv(), "", "Demo/1.0", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Date", "Thu, 01 Jan 1970 00:00:00 GMT")
			w.Header().Set("Server", "Mine")
		}, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nServer: Mine\r\n\r\n"},
		{"nil Date suppresses the automatic one", baseEnv(), "", "Demo/1.0", func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Date"] = nil
			w.Header()["Server"] = nil
		}, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{"HTTP/0.9 gets the body alone", baseEnv("SERVER_PROTOCOL", "HTTP/0.9"), "", "Demo/1.0", hello, "Hello"},
		{"http/0.9 in lower case too", baseEnv("SERVER_PROTOCOL", "http/0.9"), "", "", hello, "Hello"},
		{"INCLUDED counts as HTTP/1.0", baseEnv("SERVER_PROTOCOL", "INCLUDED"), "", "", hello,
			"HTTP/1.0 200 OK\r\nDATE\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nHello"},
		{"missing SERVER_PROTOCOL counts as HTTP/1.0", baseEnv("SERVER_PROTOCOL", "\x00delete"), "", "", hello,
			"HTTP/1.0 200 OK\r\nDATE\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nHello"},
		{"error answer", baseEnv(), "", "Demo/1.0", func(w http.ResponseWriter, r *http.Request) { panic("x") },
			"HTTP/1.0 500 Internal Server Error\r\nDATE\r\nServer: Demo/1.0\r\nContent-Type: text/plain\r\nContent-Length: 59\r\n\r\nA server error occurred.  Please contact the administrator."},
		{"error answer to HTTP/0.9", baseEnv("SERVER_PROTOCOL", "HTTP/0.9"), "", "", func(w http.ResponseWriter, r *http.Request) { panic("x") },
			"A server error occurred.  Please contact the administrator."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, h := range []*Handler{NewSimple(nil, nil, nil, tt.env), NewSimple(nil, nil, nil, nil).withPairs(tt.env)} {
				h.HTTPVersion, h.ServerSoftware = tt.version, tt.software
				got := runApp(h, tt.app)
				out := dateLine.ReplaceAllString(got.stdout, "${1}DATE\r\n")
				if out != tt.want {
					t.Errorf("got %q\nwant %q (from Pairs: %v)", out, tt.want, h.Pairs != nil)
				}
			}
		})
	}
}

// TestServerSoftwareEnviron: SERVER_SOFTWARE is added for an origin server
// with ServerSoftware, only when absent, and never under CGI.
func TestServerSoftwareEnviron(t *testing.T) {
	tests := []struct {
		origin bool
		env    environ.Environ
		want   string
		wantOK bool
	}{
		{true, baseEnv(), "Demo/1.0", true},
		{true, baseEnv("SERVER_SOFTWARE", "nginx"), "nginx", true},
		{false, baseEnv(), "", false},
	}
	for _, tt := range tests {
		for _, h := range []*Handler{NewBaseCGI(nil, io.Discard, io.Discard, tt.env), NewBaseCGI(nil, io.Discard, io.Discard, nil).withPairs(tt.env)} {
			h.OriginServer, h.ServerSoftware = tt.origin, "Demo/1.0"
			var got string
			var ok bool
			h.Run(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, ok = Environ(r)["SERVER_SOFTWARE"]
			}))
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("origin=%v, from Pairs %v: SERVER_SOFTWARE = %q, %v; want %q, %v", tt.origin, h.Pairs != nil, got, ok, tt.want, tt.wantOK)
			}
		}
		if _, had := tt.env["SERVER_SOFTWARE"]; tt.origin && !had && len(tt.env) != len(baseEnv()) {
			t.Errorf("the front end's environ was modified")
		}
	}
}

func TestTracebackLimit(t *testing.T) {
	frames := func(stderr string) int { return strings.Count(stderr, "\n\t") }
	var counts []int
	for _, limit := range []int{-1, 1, 2, 0} {
		h := cgi(baseEnv(), "")
		h.TracebackLimit = limit
		got := runApp(h, func(w http.ResponseWriter, r *http.Request) { panic("deep") })
		if !strings.HasPrefix(got.stderr, "gateway: panic serving GET /: deep\n") {
			t.Fatalf("limit %d: stderr %q", limit, got.stderr)
		}
		counts = append(counts, frames(got.stderr))
	}
	if counts[0] != 0 || counts[1] != 1 || counts[2] != 2 || counts[3] <= 2 {
		t.Errorf("frames for limits -1, 1, 2, 0 = %v", counts)
	}
	h := cgi(baseEnv(), "")
	h.TracebackLimit = 1
	got := runApp(h, func(w http.ResponseWriter, r *http.Request) { panic("deep") })
	if !strings.Contains(got.stderr, "gateway.TestTracebackLimit") || strings.Contains(got.stderr, "runtime/debug.Stack") {
		t.Errorf("the one frame is not the panicking function:\n%s", got.stderr)
	}
}

// failWriter fails every write with err.
type failWriter struct{ err error }

func (f failWriter) Write(p []byte) (int, error) { return 0, f.err }

func TestClientGone(t *testing.T) {
	for _, gone := range []error{syscall.EPIPE, syscall.ECONNRESET, syscall.ECONNABORTED, io.ErrClosedPipe} {
		var errs bytes.Buffer
		var writeErrs []error
		h := NewBaseCGI(nil, failWriter{gone}, &errs, baseEnv())
		err := h.Run(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			big := bytes.Repeat([]byte("x"), 3*bufferSize)
			for range 2 {
				_, err := w.Write(big)
				writeErrs = append(writeErrs, err)
			}
		}))
		if !errors.Is(err, gone) {
			t.Errorf("%v: Run = %v", gone, err)
		}
		if errs.Len() != 0 {
			t.Errorf("%v: stderr %q, want nothing", gone, errs.String())
		}
		if len(writeErrs) != 2 || !errors.Is(writeErrs[0], gone) || !errors.Is(writeErrs[1], gone) {
			t.Errorf("%v: app's writes returned %v, want the error both times", gone, writeErrs)
		}
	}
	// Any other write error is logged once.
	var errs bytes.Buffer
	h := NewBaseCGI(nil, failWriter{errors.New("disk full")}, &errs, baseEnv())
	if err := h.Run(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "x") })); err == nil {
		t.Error("Run = nil after a failed write")
	}
	if strings.Count(errs.String(), "disk full") != 1 {
		t.Errorf("stderr = %q, want the error once", errs.String())
	}
}

// trickleWriter accepts at most one byte a call, and sometimes none.
type trickleWriter struct {
	bytes.Buffer
	calls int
}

func (t *trickleWriter) Write(p []byte) (int, error) {
	t.calls++
	if t.calls%3 == 0 || len(p) == 0 {
		return 0, nil
	}
	return t.Buffer.Write(p[:1])
}

func TestShortWritesRetried(t *testing.T) {
	var out trickleWriter
	h := NewBaseCGI(nil, &out, io.Discard, baseEnv())
	if err := h.Run(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "Hello")
	})); err != nil {
		t.Fatal(err)
	}
	want := "Status: 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nHello"
	if out.String() != want {
		t.Errorf("got %q", out.String())
	}
}

// stuckWriter accepts nothing and reports no error.
type stuckWriter struct{}

func (stuckWriter) Write(p []byte) (int, error) { return 0, nil }

func TestStuckWriterGivesUp(t *testing.T) {
	h := NewBaseCGI(nil, stuckWriter{}, io.Discard, baseEnv())
	err := h.Run(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "x") }))
	if !errors.Is(err, io.ErrShortWrite) {
		t.Errorf("Run = %v, want io.ErrShortWrite", err)
	}
}

// flushCounter counts Flush calls.
type flushCounter struct {
	bytes.Buffer
	flushes int
}

func (f *flushCounter) Flush() error { f.flushes++; return nil }

func TestStdoutFlushed(t *testing.T) {
	var out flushCounter
	h := NewBaseCGI(nil, &out, io.Discard, baseEnv())
	err := h.Run(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "a")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController.Flush: %v", err)
		}
		if out.flushes != 1 || !strings.HasSuffix(out.String(), "\r\n\r\na") {
			t.Errorf("after Flush: %d flushes, output %q", out.flushes, out.String())
		}
		io.WriteString(w, "b")
	}))
	if err != nil || out.flushes != 2 {
		t.Errorf("Run = %v, %d flushes; want nil, 2", err, out.flushes)
	}
}

func TestResponseControllerUnsupported(t *testing.T) {
	runApp(cgi(baseEnv(), ""), func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(timeZero); !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("SetWriteDeadline = %v", err)
		}
		if _, _, err := rc.Hijack(); !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("Hijack = %v", err)
		}
		if err := rc.EnableFullDuplex(); !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("EnableFullDuplex = %v", err)
		}
	})
}

func TestContentLengthExceeded(t *testing.T) {
	var writeErr error
	got := runApp(cgi(baseEnv(), ""), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "3")
		w.Header().Set("Content-Type", "text/plain")
		_, writeErr = io.WriteString(w, "abcd")
		io.WriteString(w, "abc")
	})
	if writeErr != http.ErrContentLength {
		t.Errorf("oversize write = %v", writeErr)
	}
	if want := "Status: 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nabc"; got.stdout != want {
		t.Errorf("got %q", got.stdout)
	}
}

func TestWriteAfterReturn(t *testing.T) {
	var saved http.ResponseWriter
	runApp(cgi(baseEnv(), ""), func(w http.ResponseWriter, r *http.Request) { saved = w })
	if _, err := saved.Write([]byte("late")); err == nil {
		t.Error("a write after the handler returned succeeded")
	}
}

func TestLargeBodyCommitsWithoutLength(t *testing.T) {
	body := strings.Repeat("0123456789", 1000)
	got := runApp(cgi(baseEnv(), ""), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		for i := 0; i < len(body); i += 1000 {
			io.WriteString(w, body[i:i+1000])
		}
	})
	want := "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body
	if got.stdout != want {
		t.Errorf("got %d bytes, want %d; head %q", len(got.stdout), len(want), got.stdout[:60])
	}
}

func TestLargeFirstWriteIsSniffed(t *testing.T) {
	body := "<html>" + strings.Repeat("x", 2*bufferSize)
	got := runApp(cgi(baseEnv(), ""), func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })
	want := "Status: 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + body
	if got.stdout != want {
		t.Errorf("head %q", got.stdout[:70])
	}
}

var timeZero = time.Time{}

// enderOut is a Stdout that ends the answer itself, as FastCGI's does.
type enderOut struct {
	bytes.Buffer
	flushes, ends int
}

func (o *enderOut) Flush() error     { o.flushes++; return nil }
func (o *enderOut) EndAnswer() error { o.ends++; return nil }

func TestAnswerEnder(t *testing.T) {
	for _, tt := range []struct {
		name              string
		app               http.HandlerFunc
		wantErr           bool
		flushes, wantEnds int
	}{
		{"whole", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") }, false, 0, 1},
		{"flushed then whole", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hi")
			w.(http.Flusher).Flush()
		}, false, 1, 1},
		{"error answer", func(w http.ResponseWriter, r *http.Request) { panic("x") }, false, 0, 1},
		{"cut", func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}, true, 2, 0},
		{"short", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "3")
		}, true, 1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := &enderOut{}
			h := NewBaseCGI(nil, out, io.Discard, baseEnv())
			err := h.Run(tt.app)
			if (err != nil) != tt.wantErr || out.flushes != tt.flushes || out.ends != tt.wantEnds {
				t.Errorf("Run = %v, %d flushes, %d EndAnswer; want error %v, %d, %d",
					err, out.flushes, out.ends, tt.wantErr, tt.flushes, tt.wantEnds)
			}
		})
	}
}

// bufferedIn is a Stdin that never blocks the web server and can bound
// its reads, as FastCGI's is.
type bufferedIn struct {
	io.Reader
	deadline time.Time
	awaited  int
}

func (b *bufferedIn) AwaitInput() error                 { b.awaited++; return nil }
func (b *bufferedIn) SetReadDeadline(t time.Time) error { b.deadline = t; return nil }

// TestBufferedInputNotSpooled: under a front end that holds the body
// itself, the answer waits for the body to be in but takes none of it; with
// full duplex it does not wait.
func TestBufferedInputNotSpooled(t *testing.T) {
	for _, duplex := range []bool{false, true} {
		in := &bufferedIn{Reader: strings.NewReader("0123456789")}
		var rest []byte
		when := time.Unix(1e9, 0)
		runApp(NewBaseCGI(in, nil, nil, postEnv(10)), func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			if duplex {
				if err := rc.EnableFullDuplex(); err != nil {
					t.Errorf("EnableFullDuplex = %v", err)
				}
			}
			w.(http.Flusher).Flush()
			if got := in.Reader.(*strings.Reader).Len(); got != 10 {
				t.Errorf("the flush read the body: %d bytes left in stdin", got)
			}
			if err := rc.SetReadDeadline(when); err != nil {
				t.Errorf("SetReadDeadline = %v", err)
			}
			rest, _ = io.ReadAll(r.Body)
		})
		if string(rest) != "0123456789" || !in.deadline.Equal(when) {
			t.Errorf("body %q, deadline %v", rest, in.deadline)
		}
		if want := map[bool]int{false: 1, true: 0}[duplex]; in.awaited != want {
			t.Errorf("full duplex %v: AwaitInput called %d times, want %d", duplex, in.awaited, want)
		}
	}
}

func TestErrClientGone(t *testing.T) {
	gone := fmt.Errorf("writing: %w", ErrClientGone)
	got := runApp(NewBaseCGI(nil, failWriter{gone}, nil, baseEnv()), func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "x")
	})
	if !errors.Is(got.err, ErrClientGone) || got.stderr != "" {
		t.Errorf("Run = %v, stderr %q", got.err, got.stderr)
	}
	if IsClientGone(errors.New("other")) {
		t.Error("any error counts as a client gone")
	}
}

// TestNewContextEnviron: a context from NewContext gives Environ the
// environ it was given, nil included.
func TestNewContextEnviron(t *testing.T) {
	env := environ.Environ{"REQUEST_METHOD": "GET"}
	for _, e := range []environ.Environ{env, nil} {
		r := httptest.NewRequest("GET", "/", nil)
		r = r.WithContext(NewContext(r.Context(), e, nil, Flags{}))
		got := Environ(r)
		if (got == nil) != (e == nil) || !maps.Equal(got, e) {
			t.Errorf("Environ(r) = %v, want %v", got, e)
		}
	}
}

// relister lists a copy of its pairs and counts the calls.
type relister struct {
	pairs environ.Pairs
	calls int
}

func (l *relister) ListPairs() environ.Pairs {
	l.calls++
	return slices.Clone(l.pairs)
}

// TestRelist: with Relist, the Environ the app asks for, during the request
// or after Run returned and the front end reused the slice of Pairs, is
// made from the pairs Relist gives, plus the SERVER_SOFTWARE that Run adds
// in origin mode; Pairs are read only while Run runs.
func TestRelist(t *testing.T) {
	pairs := environ.Pairs{
		{Name: "REQUEST_METHOD", Value: "GET"}, {Name: "SERVER_NAME", Value: "h"},
		{Name: "SCRIPT_NAME", Value: "/a"}, {Name: "HTTP_ACCEPT", Value: "x"}, {Name: "HTTP_ACCEPT", Value: "y"},
	}
	want := environ.Environ{"REQUEST_METHOD": "GET", "SERVER_NAME": "h", "SCRIPT_NAME": "/a", "HTTP_ACCEPT": "x, y"}
	tests := []struct {
		name   string
		origin bool
		during bool // the app asks during the request too
	}{
		{"after Run", false, false},
		{"during and after Run", false, true},
		{"origin server, after Run", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &relister{pairs: slices.Clone(pairs)}
			h := NewBaseCGI(nil, io.Discard, io.Discard, nil)
			if tt.origin {
				h = NewSimple(nil, io.Discard, io.Discard, nil)
				h.ServerSoftware = "test/1"
			}
			h.Pairs, h.Relist = slices.Clone(pairs), l
			var req *http.Request
			var during environ.Environ
			err := h.Run(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				req = r
				if tt.during {
					during = Environ(r)
				}
			}))
			if err != nil {
				t.Fatal(err)
			}
			for i := range h.Pairs { // the front end reuses the slice
				h.Pairs[i] = environ.Pair{Name: "REQUEST_METHOD", Value: "POST"}
			}
			got := Environ(req)
			want := maps.Clone(want)
			if tt.origin {
				want["SERVER_SOFTWARE"] = "test/1"
			}
			if !maps.Equal(got, want) {
				t.Errorf("Environ(r) after Run = %v, want %v", got, want)
			}
			if tt.during && !maps.Equal(during, want) {
				t.Errorf("Environ(r) during Run = %v, want %v", during, want)
			}
			if l.calls != 1 {
				t.Errorf("ListPairs called %d times, want once", l.calls)
			}
		})
	}
}
