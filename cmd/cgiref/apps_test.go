package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/cgiref/cgiref/environ"
	"github.com/cgiref/cgiref/gateway"
	"github.com/cgiref/cgiref/internal/wine"
)

// handlerFor builds the application of the given flags.
func handlerFor(t *testing.T, args ...string) http.Handler {
	t.Helper()
	var o appOptions
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	o.register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	h, err := o.handler()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return h
}

// serveRecorder runs h for req and fails the test on a panic.
func serveRecorder(t *testing.T, h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("%s %s: panic %v", req.Method, req.URL, p)
		}
	}()
	h.ServeHTTP(rec, req)
	return rec
}

// cgiEnv is a valid environ for a request of path under the application
// mounted at /cgi-bin/cgiref.
func cgiEnv(method, pathInfo string) environ.Environ {
	return environ.Environ{
		"GATEWAY_INTERFACE": "CGI/1.1",
		"REQUEST_METHOD":    method,
		"SERVER_NAME":       "localhost",
		"SERVER_PORT":       "80",
		"SERVER_PROTOCOL":   "HTTP/1.1",
		"SCRIPT_NAME":       "/cgi-bin/cgiref",
		"PATH_INFO":         pathInfo,
		"QUERY_STRING":      "",
		"REQUEST_URI":       "/cgi-bin/cgiref" + pathInfo,
	}
}

// runGateway runs h under gateway.NewBaseCGI.
func runGateway(t *testing.T, h http.Handler, env environ.Environ, body io.Reader) (stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	g := gateway.NewBaseCGI(body, &out, &errs, env)
	g.TracebackLimit = -1
	g.Run(h)
	return out.String(), errs.String()
}

func TestHandlerOptions(t *testing.T) {
	dir := wine.TempDir(t)
	tests := []struct {
		name string
		o    appOptions
		err  string
	}{
		{"demo", appOptions{app: "demo"}, ""},
		{"echo validated", appOptions{app: "echo", validate: true}, ""},
		{"files", appOptions{app: "files", dir: dir}, ""},
		{"files without dir", appOptions{app: "files"}, "-app files needs -dir"},
		{"files missing dir", appOptions{app: "files", dir: filepath.Join(dir, "nope")}, "cgiref: files:"},
		{"check without dir", appOptions{app: "check"}, ""},
		{"check missing dir", appOptions{app: "check", dir: filepath.Join(dir, "nope")}, "cgiref: files:"},
		{"unknown", appOptions{app: "php"}, `unknown app "php"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := tc.o.handler()
			t.Cleanup(func() { tc.o.Close() })
			if tc.err == "" {
				if err != nil || h == nil {
					t.Fatalf("handler() = %v, %v", h, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one with %q", err, tc.err)
			}
		})
	}
}

func TestDemoApp(t *testing.T) {
	for _, args := range [][]string{nil, {"-validate"}} {
		h := handlerFor(t, args...)
		rec := serveRecorder(t, h, httptest.NewRequest("GET", "/x?q=1", nil))
		body := rec.Body.String()
		if !strings.HasPrefix(body, "Hello world!\n\n") || !strings.Contains(body, "\nQUERY_STRING = \"q=1\"\n") {
			t.Errorf("%v: body %q", args, body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Errorf("%v: Content-Type %q", args, ct)
		}
	}
	out, _ := runGateway(t, handlerFor(t), cgiEnv("GET", "/p"), nil)
	if !strings.HasPrefix(out, "Status: 200 OK\r\n") || !strings.Contains(out, "\nPATH_INFO = \"/p\"\n") {
		t.Errorf("under a gateway: %q", out)
	}
}

func TestEchoApp(t *testing.T) {
	tests := []struct {
		ct, want string
	}{
		{"application/x-test", "application/x-test"},
		{"", "application/octet-stream"},
	}
	for _, validated := range []bool{false, true} {
		for _, tc := range tests {
			args := []string{"-app", "echo"}
			if validated {
				args = append(args, "-validate")
			}
			req := httptest.NewRequest("POST", "/", strings.NewReader("a body"))
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			rec := serveRecorder(t, handlerFor(t, args...), req)
			if rec.Body.String() != "a body" || rec.Header().Get("Content-Type") != tc.want {
				t.Errorf("%v %q: %q, Content-Type %q", args, tc.ct, rec.Body.String(), rec.Header().Get("Content-Type"))
			}
		}
	}
}

// patternReader yields n bytes of a repeating pattern.
type patternReader struct{ n, off int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n-p.off {
		b = b[:p.n-p.off]
	}
	for i := range b {
		b[i] = byte((p.off + int64(i)) % 251)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// streamWriter checks that the echo streams: output never lags the input by
// more than a bound.
type streamWriter struct {
	h       http.Header
	in      *patternReader
	written int64
	maxLag  int64
	bad     bool
}

func (s *streamWriter) Header() http.Header { return s.h }
func (s *streamWriter) WriteHeader(int)     {}
func (s *streamWriter) Write(b []byte) (int, error) {
	for i, c := range b {
		if c != byte((s.written+int64(i))%251) {
			s.bad = true
		}
	}
	s.written += int64(len(b))
	s.maxLag = max(s.maxLag, s.in.off-s.written)
	return len(b), nil
}

func TestEchoStreams(t *testing.T) {
	const size = 10 << 20
	in := &patternReader{n: size}
	w := &streamWriter{h: http.Header{}, in: in}
	req := httptest.NewRequest("POST", "/", nil)
	req.Body = io.NopCloser(in)
	req.ContentLength = size
	echoApp(w, req)
	if w.written != size || w.bad {
		t.Fatalf("echoed %d bytes (corrupt: %v), want %d", w.written, w.bad, size)
	}
	if w.maxLag > 64<<10 {
		t.Errorf("the output lagged the input by %d bytes: the body was buffered", w.maxLag)
	}
	if got := w.h.Get("Content-Length"); got != "10485760" {
		t.Errorf("Content-Length %q", got)
	}
}

func TestEcho10MiBGateway(t *testing.T) {
	const size = 10 << 20
	env := cgiEnv("POST", "/echo")
	env["CONTENT_LENGTH"] = "10485760"
	env["CONTENT_TYPE"] = "application/x-test"
	for _, args := range [][]string{{"-app", "echo"}, {"-app", "check", "-validate"}} {
		out, errs := runGateway(t, handlerFor(t, args...), env, &patternReader{n: size})
		head, body, ok := strings.Cut(out, "\r\n\r\n")
		if !ok || !strings.HasPrefix(head, "Status: 200 OK\r\n") || !strings.Contains(head, "Content-Type: application/x-test") {
			t.Fatalf("%v: head %q, stderr %q", args, head, errs)
		}
		w := &streamWriter{in: &patternReader{n: size}}
		w.in.off = size
		w.Write([]byte(body))
		if len(body) != size || w.bad {
			t.Errorf("%v: echoed %d bytes (corrupt: %v)", args, len(body), w.bad)
		}
	}
}

// filesTree makes DIR with files, folders and symbolic links, and a secret
// file beside DIR.
// plainTree makes a folder www of files, and secret.txt next to it.
func plainTree(t testing.TB) (dir, secret string) {
	t.Helper()
	base := wine.TempDir(t)
	dir = filepath.Join(base, "www")
	secret = filepath.Join(base, "secret.txt")
	files := map[string]string{
		secret:                                   "secret",
		filepath.Join(dir, "a.txt"):              "hello",
		filepath.Join(dir, "data.json"):          "{}",
		filepath.Join(dir, "blob.unknownext"):    "\x00\x01",
		filepath.Join(dir, "sub", "index.html"):  "<p>index</p>",
		filepath.Join(dir, "sub", "page.css"):    "p{}",
		filepath.Join(dir, "empty", "none.txt"):  "x",
		filepath.Join(dir, "noindex", "a.b.txt"): "x",
	}
	for name, content := range files {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, secret
}

// filesTree is plainTree with symbolic links in and out of the folder.
func filesTree(t testing.TB) (dir, secret string) {
	t.Helper()
	dir, secret = plainTree(t)
	links := map[string]string{
		"link-in":      "a.txt",
		"link-out":     "../secret.txt",
		"link-abs-out": secret,
		"dir-out":      "..",
		"sub/up-in":    "../a.txt",
	}
	for name, target := range links {
		link := filepath.Join(dir, filepath.FromSlash(name))
		err := os.Symlink(target, link)
		if err == nil {
			_, err = os.Lstat(link) // Wine 8's CreateSymbolicLink succeeds and makes nothing
		}
		if err != nil {
			if runtime.GOOS == "windows" {
				t.Skipf("symbolic links are not available here (they need privileges on Windows): %v", err)
			}
			t.Fatal(err)
		}
	}
	return dir, secret
}

func TestFilesApp(t *testing.T) {
	dir, secret := filesTree(t)
	tests := []struct {
		method, target string
		status         int
		body, ct       string
	}{
		{"GET", "/a.txt", 200, "hello", "text/plain; charset=utf-8"},
		{"HEAD", "/a.txt", 200, "", "text/plain; charset=utf-8"},
		{"GET", "/data.json", 200, "{}", "application/json"},
		{"GET", "/sub/page.css", 200, "p{}", "text/css; charset=utf-8"},
		{"GET", "/blob.unknownext", 200, "\x00\x01", "application/octet-stream"},
		{"GET", "/sub/", 200, "<p>index</p>", "text/html; charset=utf-8"},
		{"GET", "/sub", 301, "", ""},
		{"GET", "/noindex/", 404, "", ""},
		{"GET", "/", 404, "", ""},
		{"GET", "/missing.txt", 404, "", ""},
		{"GET", "/../secret.txt", 404, "", ""},
		{"GET", "/sub/../../secret.txt", 404, "", ""},
		{"GET", "/%2e%2e/secret.txt", 404, "", ""},
		{"GET", "/%2e%2e%2fsecret.txt", 404, "", ""},
		{"GET", "/..%2fsecret.txt", 404, "", ""},
		{"GET", "/..%5csecret.txt", 404, "", ""},
		{"GET", "//" + filepath.ToSlash(secret), 404, "", ""},
		{"GET", "/link-out", 404, "", ""},
		{"GET", "/link-abs-out", 404, "", ""},
		{"GET", "/dir-out/secret.txt", 404, "", ""},
		{"GET", "/link-in", 200, "hello", ""},
		{"GET", "/sub/up-in", 200, "hello", ""},
		{"POST", "/a.txt", 405, "", ""},
	}
	for _, validated := range []bool{false, true} {
		args := []string{"-app", "files", "-dir", dir}
		if validated {
			args = append(args, "-validate")
		}
		h := handlerFor(t, args...)
		for _, tc := range tests {
			rec := serveRecorder(t, h, httptest.NewRequest(tc.method, tc.target, nil))
			if rec.Code != tc.status {
				t.Errorf("%v %s %s: status %d, want %d", args, tc.method, tc.target, rec.Code, tc.status)
			}
			if strings.Contains(rec.Body.String(), "secret") {
				t.Errorf("%s %s: the secret leaked", tc.method, tc.target)
			}
			if tc.status == 200 && rec.Body.String() != tc.body {
				t.Errorf("%s %s: body %q, want %q", tc.method, tc.target, rec.Body.String(), tc.body)
			}
			if tc.ct != "" && rec.Header().Get("Content-Type") != tc.ct {
				t.Errorf("%s %s: Content-Type %q, want %q", tc.method, tc.target, rec.Header().Get("Content-Type"), tc.ct)
			}
		}
	}
}

func TestFilesRedirectAndAbsolute(t *testing.T) {
	dir, secret := filesTree(t)
	a, err := newFilesApp(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rec := serveRecorder(t, a, httptest.NewRequest("GET", "/sub?x=1", nil))
	if loc := rec.Header().Get("Location"); rec.Code != 301 || loc != "/sub/" {
		t.Errorf("redirect %d to %q, want 301 to /sub/", rec.Code, loc)
	}
	for _, p := range []string{secret, filepath.ToSlash(secret), "../secret.txt", `..\secret.txt`, "a.txt\x00"} {
		rec := httptest.NewRecorder()
		a.serve(rec, httptest.NewRequest("GET", "/", nil), p)
		if rec.Code != 404 {
			t.Errorf("path %q: status %d, want 404", p, rec.Code)
		}
	}
}

func TestFilesUnderGateway(t *testing.T) {
	dir, _ := filesTree(t)
	h := handlerFor(t, "-app", "files", "-dir", dir, "-validate")
	out, errs := runGateway(t, h, cgiEnv("GET", "/a.txt"), nil)
	want := "Status: 200 OK\r\nAccept-Ranges: bytes\r\nContent-Length: 5\r\nContent-Type: text/plain; charset=utf-8\r\n"
	if !strings.HasPrefix(out, want) || !strings.HasSuffix(out, "\r\n\r\nhello") {
		t.Errorf("stdout %q (stderr %q), want it to start with %q and end with the file", out, errs, want)
	}
	out, _ = runGateway(t, h, cgiEnv("GET", "/%2e%2e/secret.txt"), nil)
	if !strings.HasPrefix(out, "Status: 404 ") {
		t.Errorf("stdout %q, want 404", out)
	}
}

// flushRecorder records the body at each flush.
type flushRecorder struct {
	*httptest.ResponseRecorder
	atFlush []string
}

func (f *flushRecorder) Flush() {
	f.atFlush = append(f.atFlush, f.Body.String())
	f.ResponseRecorder.Flush()
}

func TestCheckApp(t *testing.T) {
	dir, _ := filesTree(t)
	tests := []struct {
		method, target string
		header         http.Header
		status         int
		body, ct       string
	}{
		{"POST", "/echo", http.Header{"Content-Type": {"text/x-mine"}}, 200, "posted", "text/x-mine"},
		{"GET", "/status/404", nil, 404, "status 404\n", "text/plain; charset=utf-8"},
		{"GET", "/status/599", nil, 599, "status 599\n", "text/plain; charset=utf-8"},
		{"GET", "/status/204", nil, 204, "", ""},
		{"GET", "/status/304", nil, 304, "", ""},
		{"GET", "/status/99", nil, 400, "", ""},
		{"GET", "/status/1000", nil, 400, "", ""},
		{"GET", "/status/abc", nil, 400, "", ""},
		{"GET", "/status/103", nil, 400, "", ""},
		{"GET", "/auth", http.Header{"X-Auth": {"ok"}}, 200, "authorized\n", "text/plain; charset=utf-8"},
		{"GET", "/auth", http.Header{"X-Auth": {"no"}}, 403, "", ""},
		{"GET", "/auth", nil, 403, "", ""},
		{"GET", "/files/a.txt", nil, 200, "hello", "text/plain; charset=utf-8"},
		{"GET", "/files/../secret.txt", nil, 404, "", ""},
		{"GET", "/files", nil, 301, "", ""},
		{"GET", "/filesystem", nil, 200, "", "text/plain; charset=utf-8"},
		{"GET", "/pid", nil, 200, "pid " + strconv.Itoa(os.Getpid()) + "\n", "text/plain; charset=utf-8"},
		{"GET", "/anything", nil, 200, "", "text/plain; charset=utf-8"},
	}
	for _, validated := range []bool{false, true} {
		args := []string{"-app", "check", "-dir", dir}
		if validated {
			args = append(args, "-validate")
		}
		h := handlerFor(t, args...)
		for _, tc := range tests {
			var body io.Reader
			if tc.method == "POST" {
				body = strings.NewReader("posted")
			}
			req := httptest.NewRequest(tc.method, tc.target, body)
			for k, v := range tc.header {
				req.Header[k] = v
			}
			rec := serveRecorder(t, h, req)
			if rec.Code != tc.status {
				t.Errorf("%v %s %s: status %d, want %d", args, tc.method, tc.target, rec.Code, tc.status)
			}
			if tc.body != "" && rec.Body.String() != tc.body {
				t.Errorf("%s %s: body %q, want %q", tc.method, tc.target, rec.Body.String(), tc.body)
			}
			if tc.ct != rec.Header().Get("Content-Type") && tc.status < 300 {
				t.Errorf("%s %s: Content-Type %q, want %q", tc.method, tc.target, rec.Header().Get("Content-Type"), tc.ct)
			}
			if tc.target == "/anything" && !strings.HasPrefix(rec.Body.String(), "Hello world!\n\n") {
				t.Errorf("/anything: body %q, want the demo listing", rec.Body.String())
			}
		}
	}
}

func TestCheckAuthHeader(t *testing.T) {
	req := httptest.NewRequest("GET", "/auth", nil)
	req.Header.Set("X-Auth", "ok")
	rec := serveRecorder(t, handlerFor(t, "-app", "check"), req)
	//lint:ignore SA1008 the authorizer's key is assigned directly and keeps its letter case
	if got := rec.Header()["Variable-AUTH_USER"]; len(got) != 1 || got[0] != "tester" {
		t.Errorf("Variable-AUTH_USER %q (header %v)", got, rec.Header())
	}
	env := cgiEnv("GET", "/auth")
	env["HTTP_X_AUTH"] = "ok"
	out, _ := runGateway(t, handlerFor(t, "-app", "check", "-validate"), env, nil)
	if !strings.Contains(out, "\r\nVariable-AUTH_USER: tester\r\n") {
		t.Errorf("under a gateway: %q", out)
	}
}

func TestCheckNoDir(t *testing.T) {
	rec := serveRecorder(t, handlerFor(t, "-app", "check"), httptest.NewRequest("GET", "/files/a.txt", nil))
	if rec.Code != 404 {
		t.Errorf("status %d, want 404 without -dir", rec.Code)
	}
}

func TestCheckPanic(t *testing.T) {
	defer func() {
		if p := recover(); p == nil {
			t.Error("/panic did not panic")
		}
	}()
	handlerFor(t, "-app", "check").ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/panic", nil))
}

func TestCheckPanicGateway(t *testing.T) {
	out, errs := runGateway(t, handlerFor(t, "-app", "check"), cgiEnv("GET", "/panic"), nil)
	if !strings.HasPrefix(out, "Status: 500 Internal Server Error\r\n") || !strings.Contains(errs, "/panic requested") {
		t.Errorf("stdout %q, stderr %q", out, errs)
	}
}

func TestCheckStream(t *testing.T) {
	for _, args := range [][]string{{"-app", "check"}, {"-app", "check", "-validate"}} {
		w := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("%v: panic %v", args, p)
				}
			}()
			handlerFor(t, args...).ServeHTTP(w, httptest.NewRequest("GET", "/stream", nil))
		}()
		if w.Body.String() != "first\nsecond\n" {
			t.Errorf("%v: body %q", args, w.Body.String())
		}
		if len(w.atFlush) == 0 || w.atFlush[0] != "first\n" {
			t.Errorf("%v: bodies at flush %q, want \"first\\n\" first", args, w.atFlush)
		}
	}
}

func TestCheckStreamCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
	handlerFor(t, "-app", "check").ServeHTTP(w, httptest.NewRequest("GET", "/stream", nil).WithContext(ctx))
	if w.Body.String() != "first\n" {
		t.Errorf("body %q, want only the first line", w.Body.String())
	}
}

// TestCheckRouting checks the path an app routes on under a gateway.
func TestCheckRouting(t *testing.T) {
	h := handlerFor(t, "-app", "check", "-validate")
	tests := []struct {
		name string
		env  environ.Environ
	}{
		{"PATH_INFO", cgiEnv("GET", "/status/404")},
		{"nginx SCRIPT_NAME", environ.Environ{
			"REQUEST_METHOD": "GET", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
			"SERVER_PROTOCOL": "HTTP/1.1", "SCRIPT_NAME": "/status/404", "QUERY_STRING": "",
			"REQUEST_URI": "/status/404",
		}},
	}
	for _, tc := range tests {
		out, errs := runGateway(t, h, tc.env, nil)
		if !strings.HasPrefix(out, "Status: 404 Not Found\r\n") || !strings.HasSuffix(out, "status 404\n") {
			t.Errorf("%s: stdout %q, stderr %q", tc.name, out, errs)
		}
	}
}

func TestNewLogger(t *testing.T) {
	var b bytes.Buffer
	newLogger(&b).Info("hello", "k", "v")
	if got := b.String(); !strings.Contains(got, "level=INFO msg=hello k=v") {
		t.Errorf("log %q", got)
	}
}

func TestLogfGateway(t *testing.T) {
	var b bytes.Buffer
	env := cgiEnv("GET", "/")
	g := gateway.NewBaseCGI(nil, io.Discard, &b, env)
	g.Run(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logf(r, "note %d", 1)
	}))
	if b.String() != "cgiref: note 1\n" {
		t.Errorf("stderr %q", b.String())
	}
}

func TestSafeName(t *testing.T) {
	good := []string{".", "a.txt", "sub/index.html", ".hidden", "a..b", "..", "sub/..", "com10", "COM", "lpt", "console.txt",
		"nullable", "auxiliary/x", "x.nul", "caf\u00e9", "\u65e5\u672c.txt", "a b.txt", "~1"}
	bad := []string{`..\secret.txt`, `sub\..\..\x`, "C:", "C:/Windows", "c:x", "a.txt::$DATA", "a.txt:zone", "NUL", "nul",
		"sub/CON", "con.txt", "Aux.tar.gz", "COM1", "lpt9.log", "COM\u00b9", "CONIN$", "conout$", "clock$", "NUL ",
		"a.txt.", "a.txt ", "a.txt. .", "sub./index.html", "sub /index.html", "...", "a<b", "a>b", `a"b`, "a|b",
		"a?b", "a*b", "a\x00b", "a\x1fb", "a\x7fb", "a//b", "/a", "a/"}
	for _, n := range good {
		if !safeName(n) {
			t.Errorf("safeName(%q) = false, want true", n)
		}
	}
	for _, n := range bad {
		if safeName(n) {
			t.Errorf("safeName(%q) = true, want false", n)
		}
	}
}

// TestFilesWindowsPathTricks asks the files app for names that Windows reads
// as another file, a device or a stream. Every one is refused with 404 on
// every system; on POSIX systems files with those very names exist, so the
// refusal cannot come from the file system.
func TestFilesWindowsPathTricks(t *testing.T) {
	dir, _ := plainTree(t)
	tricky := []string{"NUL", "con.txt", "a.txt.", "a.txt ", "COM1", "a.txt::$DATA", "C:", `sub\index.html`}
	if runtime.GOOS != "windows" {
		for _, n := range tricky {
			if err := os.WriteFile(filepath.Join(dir, n), []byte("alias"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	a, err := newFilesApp(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	paths := []string{`/..\secret.txt`, `/sub\..\..\secret.txt`, `/..%5csecret.txt`, "/C:/Windows/win.ini", `/C:\Windows\win.ini`,
		"/c:secret.txt", "/a.txt::$DATA", "/a.txt:$DATA", "/sub/index.html::$DATA", "/NUL", "/nul", "/CON", "/sub/con",
		"/con.txt", "/AUX", "/PRN", "/COM1", "/lpt1", "/nul.txt", "/a.txt.", "/a.txt ", "/a.txt...", "/a.txt . .",
		"/sub./index.html", "/sub /index.html", "/sub\\index.html"}
	for _, p := range paths {
		rec := httptest.NewRecorder()
		a.serve(rec, httptest.NewRequest("GET", "/", nil), p)
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %q: status %d (body %q), want 404", p, rec.Code, rec.Body.String())
		}
	}
	// The plain names still work.
	for _, p := range []string{"/a.txt", "/sub/index.html"} {
		rec := httptest.NewRecorder()
		a.serve(rec, httptest.NewRequest("GET", "/", nil), p)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %q: status %d, want 200", p, rec.Code)
		}
	}
}

func TestCheckSleep(t *testing.T) {
	h := handlerFor(t, "-app", "check")
	for _, tc := range []struct {
		query string
		code  int
		body  string
	}{
		{"ms=0", 200, "slept 0 ms\n"},
		{"ms=20", 200, "slept 20 ms\n"},
		{"", 400, ""},
		{"ms=-1", 400, ""},
		{"ms=60001", 400, ""},
	} {
		rec := serveRecorder(t, h, httptest.NewRequest("GET", "/sleep?"+tc.query, nil))
		if rec.Code != tc.code || tc.body != "" && rec.Body.String() != tc.body {
			t.Errorf("/sleep?%s: %d %q, want %d %q", tc.query, rec.Code, rec.Body.String(), tc.code, tc.body)
		}
	}
	// A cancelled request ends the wait at once, with no answer.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := serveRecorder(t, h, httptest.NewRequest("GET", "/sleep?ms=60000", nil).WithContext(ctx))
	if rec.Body.Len() != 0 {
		t.Errorf("cancelled /sleep: body %q, want none", rec.Body.String())
	}
}

func TestCheckLogGateway(t *testing.T) {
	env := cgiEnv("GET", "/log")
	env["QUERY_STRING"] = "msg=hello+there"
	env["REQUEST_URI"] += "?msg=hello+there"
	out, errs := runGateway(t, handlerFor(t, "-app", "check"), env, nil)
	if !strings.HasPrefix(out, "Status: 200 OK\r\n") || !strings.HasSuffix(out, "logged\n") || errs != "cgiref: log: hello there\n" {
		t.Errorf("stdout %q, stderr %q", out, errs)
	}
}
