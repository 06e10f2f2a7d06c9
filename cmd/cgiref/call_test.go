package main

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/cgiref/cgiref/fcgi"
	"github.com/cgiref/cgiref/scgi"

	"github.com/cgiref/cgiref/internal/wine"
)

// startBackends serves the check app with fcgi.Server and scgi.Server on
// loopback TCP and on unix sockets, and returns the -proto and -addr of
// each.
func startBackends(t *testing.T) map[string][2]string {
	t.Helper()
	h := handlerFor(t, "-app", "check")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := wine.TempDir(t)
	out := map[string][2]string{}
	for _, proto := range []string{"fcgi", "scgi"} {
		for _, network := range []string{"tcp", "unix"} {
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = filepath.Join(dir, proto+".sock")
			}
			l, err := net.Listen(network, addr)
			if network == "unix" && wine.UnixSocketsMissing(err) {
				t.Logf("%s: %v", wine.NoUnixSockets, err)
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			var serve func(net.Listener) error
			var stop func() error
			if proto == "fcgi" {
				s := &fcgi.Server{Handler: h, Logger: quiet}
				serve, stop = s.Serve, func() error { return s.Shutdown(t.Context()) }
			} else {
				s := &scgi.Server{Handler: h, Logger: quiet}
				serve, stop = s.Serve, func() error { return s.Shutdown(t.Context()) }
			}
			done := make(chan struct{})
			go func() { serve(l); close(done) }()
			t.Cleanup(func() { stop(); <-done })
			a := l.Addr().String()
			if network == "unix" {
				a = "unix:" + a
			}
			out[proto+"-"+network] = [2]string{proto, a}
		}
	}
	return out
}

// runCall runs cgiref call with args and returns its output and status.
func runCallArgs(args ...string) (stdout, stderr string, code int) {
	var out, errs bytes.Buffer
	code = call(args, &out, &errs)
	return out.String(), errs.String(), code
}

func TestCallBackends(t *testing.T) {
	bodyFile := filepath.Join(wine.TempDir(t), "body")
	if err := os.WriteFile(bodyFile, []byte("from a file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		want     []string // substrings of stdout
		wantFull string   // all of stdout, when set
	}{
		{"demo", []string{"-H", "X-Probe: yes", "-H", "X-Probe: again", "/some/path?a=b&c"}, callOK,
			[]string{"Status: 200 OK\n", "Hello world!", `PATH_INFO = "/some/path"`, `QUERY_STRING = "a=b&c"`,
				`REQUEST_METHOD = "GET"`, `HTTP_X_PROBE = "yes, again"`, `REQUEST_URI = "/some/path?a=b&c"`}, ""},
		{"escaped-path", []string{"/a%20b"}, callOK, []string{`PATH_INFO = "/a b"`, `REQUEST_URI = "/a%20b"`}, ""},
		{"echo", []string{"-d", "hello", "-H", "Content-Type: text/x-test", "/echo"}, callOK, nil,
			"Status: 200 OK\nContent-Length: 5\nContent-Type: text/x-test\n\nhello"},
		{"echo-file", []string{"-d", "@" + bodyFile, "-X", "PUT", "/echo"}, callOK, []string{"\n\nfrom a file\n"}, ""},
		{"param", []string{"-p", "SCRIPT_NAME=/mount", "-p", "REMOTE_USER=alice", "/x"}, callOK,
			[]string{`SCRIPT_NAME = "/mount"`, `REMOTE_USER = "alice"`}, ""},
		{"redirect", []string{"/status/302"}, callOK, []string{"Status: 302 Found\n"}, ""},
		{"no-content", []string{"/status/204"}, callOK, []string{"Status: 204 No Content\n"}, ""},
		{"not-found", []string{"/status/404"}, callStatus, []string{"Status: 404 Not Found\n", "status 404"}, ""},
		{"teapot", []string{"/status/418"}, callStatus, []string{"Status: 418 I'm a teapot\n"}, ""},
		{"panic", []string{"/panic"}, callStatus, []string{"Status: 500 Internal Server Error\n", "A server error occurred."}, ""},
		{"head", []string{"-X", "HEAD", "/echo"}, callOK, []string{"Status: 200 OK\n"}, ""},
	}
	for name, b := range startBackends(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					args := append([]string{"-proto", b[0], "-addr", b[1], "-timeout", "20s"}, tc.args...)
					out, errs, code := runCallArgs(args...)
					if code != tc.code {
						t.Errorf("exit status %d, want %d; stderr %q", code, tc.code, errs)
					}
					for _, w := range tc.want {
						if !strings.Contains(out, w) {
							t.Errorf("stdout lacks %q:\n%s", w, out)
						}
					}
					if tc.wantFull != "" && out != tc.wantFull {
						t.Errorf("stdout\n%q, want\n%q", out, tc.wantFull)
					}
				})
			}
		})
	}
}

// The panic's trace reaches standard error through FCGI_STDERR.
func TestCallStderr(t *testing.T) {
	b := startBackends(t)["fcgi-tcp"]
	_, errs, _ := runCallArgs("-addr", b[1], "/panic")
	if !strings.Contains(errs, "/panic requested") {
		t.Errorf("stderr %q lacks the app's error output", errs)
	}
}

// fakeBackend accepts connections on loopback and lets answer handle each.
func fakeBackend(t *testing.T, answer func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			answer(c)
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return l.Addr().String()
}

// fcgiStdout is an FCGI_STDOUT record of request 1.
func fcgiStdout(content string) []byte {
	n := len(content)
	return append([]byte{1, 6, 0, 1, byte(n >> 8), byte(n), 0, 0}, content...)
}

func TestCallNoAnswer(t *testing.T) {
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		a := l.Addr().String()
		l.Close()
		return a
	}()
	readSome := func(c net.Conn) {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		c.Read(make([]byte, 4096))
	}
	// FastCGI: output, then the connection closes without END_REQUEST.
	fcgiCut := fakeBackend(t, func(c net.Conn) {
		readSome(c)
		c.Write(fcgiStdout("Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nhalf"))
	})
	// SCGI: a body shorter than its Content-Length.
	scgiCut := fakeBackend(t, func(c net.Conn) {
		readSome(c)
		io.WriteString(c, "Status: 200 OK\r\nContent-Length: 10\r\n\r\nabc")
	})
	scgiGarbage := fakeBackend(t, func(c net.Conn) {
		readSome(c)
		io.WriteString(c, "Status: abc\r\n\r\n")
	})
	silent := fakeBackend(t, func(c net.Conn) {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, c)
	})
	tests := []struct {
		name  string
		args  []string
		inErr string
	}{
		{"refused-fcgi", []string{"-addr", closed}, "refused"},
		{"refused-scgi", []string{"-proto", "scgi", "-addr", closed}, "refused"},
		{"missing-socket", []string{"-addr", "unix:" + filepath.Join(wine.TempDir(t), "none")}, "no such file"},
		{"fcgi-cut", []string{"-addr", fcgiCut}, "cut short"},
		{"scgi-cut", []string{"-proto", "scgi", "-addr", scgiCut}, "cut short"},
		{"scgi-garbage", []string{"-proto", "scgi", "-addr", scgiGarbage}, "malformed status"},
		{"fcgi-timeout", []string{"-addr", silent, "-timeout", "300ms"}, "timeout"},
		{"scgi-timeout", []string{"-proto", "scgi", "-addr", silent, "-timeout", "300ms"}, "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "missing-socket" && wine.Running() {
				t.Skip(wine.NoUnixSockets)
			}
			out, errs, code := runCallArgs(append(tc.args, "/")...)
			if code != callNoAnswer {
				t.Errorf("exit status %d, want %d; stdout %q", code, callNoAnswer, out)
			}
			if !strings.Contains(errs, tc.inErr) {
				t.Errorf("stderr %q lacks %q", errs, tc.inErr)
			}
			if out != "" {
				t.Errorf("printed %q for no answer", out)
			}
		})
	}
}

func TestCallUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"/"},
		{"-addr", "127.0.0.1:1"},
		{"-addr", "127.0.0.1:1", "no-slash"},
		{"-addr", "127.0.0.1:1", "-proto", "http", "/"},
		{"-addr", "127.0.0.1:1", "-d", "@" + filepath.Join(os.TempDir(), "cgiref-no-such-file"), "/"},
		{"-addr", "127.0.0.1:1", "-H", "no colon", "/"},
		{"-addr", "127.0.0.1:1", "-H", "Content-Length: 3", "/"},
		{"-addr", "127.0.0.1:1", "-p", "novalue", "/"},
		{"-addr", "127.0.0.1:1", "/%zz"},
		{"-no-such-flag"},
		{"-addr", "127.0.0.1:1", "/a", "/b"},
	} {
		if _, _, code := runCallArgs(args...); code != callUsage {
			t.Errorf("%q: exit status %d, want %d", args, code, callUsage)
		}
	}
	if _, errs, code := runCallArgs("-h"); code != 0 || !strings.Contains(errs, "Exit status") {
		t.Errorf("-h: %d %q", code, errs)
	}
}

func TestSCGIRequestBytes(t *testing.T) {
	got := string(scgiRequest(map[string]string{"REQUEST_METHOD": "POST", "A": "1"}, []byte("hi")))
	want := "48:CONTENT_LENGTH\x002\x00SCGI\x001\x00A\x001\x00REQUEST_METHOD\x00POST\x00,hi"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestVersionString(t *testing.T) {
	info := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Main:      debug.Module{Path: "github.com/cgiref/cgiref", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123abc"},
			{Key: "vcs.time", Value: "2026-01-02T03:04:05Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	for _, tc := range []struct {
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{info, true, "cgiref v1.2.3 rev 0123abc 2026-01-02T03:04:05Z modified go1.26.0"},
		{&debug.BuildInfo{GoVersion: "go1.26.0"}, true, "cgiref (devel) go1.26.0"},
		{nil, false, "cgiref (unknown version: no build information)"},
	} {
		if got := versionString(tc.info, tc.ok); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestVersionFlag(t *testing.T) {
	out, errs, code := runCommand(t, nil, "", "-version")
	if code != 0 || !strings.HasPrefix(out, "cgiref ") || !strings.Contains(out, "go1.") {
		t.Errorf("-version: %d %q %q", code, out, errs)
	}
}

// cgiref call through the command itself: the exit status a shell sees.
func TestCallCommand(t *testing.T) {
	b := startBackends(t)["scgi-tcp"]
	out, _, code := runCommand(t, nil, "", "call", "-proto", "scgi", "-addr", b[1], "/status/503")
	if code != callStatus || !strings.HasPrefix(out, "Status: 503 Service Unavailable\n") {
		t.Errorf("exit %d, stdout %q", code, out)
	}
}
