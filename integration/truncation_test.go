//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A cut answer: the app's answer began, then ended short of what it
// promised. net/http.Server aborts the client's connection then (no final
// chunk, or fewer bytes than the Content-Length), and so must every web
// server in front of a gateway: the client has to see a transfer error, so
// that no client or cache takes a cut answer for a whole one.

// cutCase is one way the check app cuts its answer.
type cutCase struct {
	name string
	path string // below the target's prefix
	sent string // the body bytes the app wrote before the cut
}

var cutCases = []cutCase{
	{"panic", "/cut/panic", "first\n"}, // panic after a flushed first chunk
	{"abort", "/cut/abort", "first\n"}, // panic(http.ErrAbortHandler) after it
	{"short", "/cut/short", "12345"},   // Content-Length 10, 5 bytes written
}

// cutFront is a FastCGI or SCGI front of a server, with curl's exit status
// for each cut case where the server does not pass the cut on (measured;
// README.md, "What an app can tell", lists them). Every other case must end
// with a non-zero status.
type cutFront struct {
	script string
	// whole maps a case to curl's exit status when the server ends the
	// client's answer as if it were whole.
	whole map[string]int
}

// TestTruncation checks with curl, through every FastCGI and SCGI front of
// every server, that a cut answer reaches the client as a transfer error,
// and that a keep-alive client connection is never desynchronised by one.
func TestTruncation(t *testing.T) {
	curl, err := lookPath("curl")
	if err != nil {
		t.Fatalf("curl: %v (scripts/integration.sh installs it)", err)
	}
	peers := []struct {
		name   string
		start  func(*testing.T) *server
		fronts []cutFront
	}{
		{"nginx", startNginx, []cutFront{{script: "/fcgi-tcp"}, {script: "/fcgi-unix"}, {script: "/fcgi-keep"}, {script: "/scgi"}}},
		{"lighttpd", startLighttpd, []cutFront{{script: "/fcgi"}, {script: "/fcgi-tcp"}, {script: "/scgi"}}},
		{"apache", func(t *testing.T) *server { return startApache(t, "event", "cgid") },
			[]cutFront{{script: "/fcgi"}, {script: "/fcgid"}, {script: "/scgi"}}},
		{"caddy", startCaddy, []cutFront{{script: "/fcgi"}}},
	}
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			srv := p.start(t)
			for _, f := range p.fronts {
				tg := target{srv: srv, script: f.script}
				t.Run(f.script[1:], func(t *testing.T) {
					for _, c := range cutCases {
						t.Run(c.name, func(t *testing.T) { checkCut(t, curl, tg, c, f.whole) })
					}
					t.Run("keepalive", func(t *testing.T) { checkNoDesync(t, tg) })
				})
			}
		})
	}
}

// curlResult is what curl made of one answer.
type curlResult struct {
	exit   int    // curl's exit status
	status string // the HTTP status code, "000" when none came
	time   string // seconds the transfer took
	body   []byte
	stderr string
}

// runCurl fetches url with curl over HTTP/1.1.
func runCurl(t *testing.T, curl, url string) curlResult {
	t.Helper()
	out := filepath.Join(t.TempDir(), "body")
	cmd := exec.Command(curl, "--http1.1", "--silent", "--show-error", "--max-time", "20",
		"--output", out, "--write-out", "%{http_code} %{time_total}", url)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var r curlResult
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.exit = ee.ExitCode()
	case err != nil:
		t.Fatalf("running curl: %v", err)
	}
	r.status, r.time, _ = strings.Cut(stdout.String(), " ")
	r.stderr = strings.TrimSpace(stderr.String())
	r.body, _ = os.ReadFile(out)
	return r
}

// checkCut fetches the cut answer c with curl: the answer began (200 and
// the bytes the app wrote), and curl reports a transfer error, unless the
// front is known to end it as whole.
func checkCut(t *testing.T, curl string, tg target, c cutCase, whole map[string]int) {
	r := runCurl(t, curl, tg.url(c.path))
	t.Logf("%s%s: curl exit %d after %ss, status %s, %d body bytes %q; %s", tg.srv.name, tg.script, r.exit, r.time, r.status, len(r.body), clip(r.body), r.stderr)
	if r.status != "200" || string(r.body) != c.sent {
		t.Errorf("status %s, body %q; want 200 and the %q the app sent before the cut", r.status, r.body, c.sent)
	}
	if want, ok := whole[c.name]; ok {
		if r.exit != want {
			t.Errorf("curl exit %d; this server was measured to end the cut answer as whole (exit %d)", r.exit, want)
		}
		return
	}
	if r.exit == 0 {
		t.Errorf("curl exit 0: the client took the cut answer for a whole one")
	}
}

// desyncWait bounds each wait for the bytes of the cut answer.
const desyncWait = 5 * time.Second

// checkNoDesync sends, on one keep-alive client connection, a request whose
// answer declares 10 bytes and has 5, then a normal one. The first may fail
// in any way but one: the server must not leave the connection open as if
// the answer had ended, for then the second answer's bytes complete the
// first body. The second answer must be whole and its own.
func checkNoDesync(t *testing.T, tg target) {
	host := strings.TrimPrefix(tg.srv.base, "http://")
	conn, err := net.DialTimeout("tcp", host, requestLimit)
	mustDo(t, err)
	defer conn.Close()
	br := bufio.NewReader(conn)

	mustDo(t, conn.SetDeadline(time.Now().Add(desyncWait)))
	sendGet(t, conn, host, tg.script+"/cut/short")
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		t.Logf("the cut answer: %v", err)
	} else {
		first := make([]byte, 10)
		n, err := io.ReadFull(resp.Body, first)
		var ne net.Error
		switch {
		case err == nil:
			t.Fatalf("the cut answer came whole, status %d, body %q: the connection is out of step", resp.StatusCode, first)
		case errors.As(err, &ne) && ne.Timeout():
			// The server ended the answer without closing the connection:
			// send the next request on it and see where its bytes go.
			mustDo(t, conn.SetDeadline(time.Now().Add(desyncWait)))
			sendGet(t, conn, host, tg.script+"/status/201")
			m, err := io.ReadFull(resp.Body, first[n:])
			if m > 0 {
				t.Fatalf("the cut answer's body was completed by the next answer: %q", first[:n+m])
			}
			t.Fatalf("the server left the connection open after the cut answer (status %d, %q) and the next request got nothing: %v", resp.StatusCode, first[:n], err)
		default:
			t.Logf("the cut answer: status %d, %q, then %v", resp.StatusCode, first[:n], err)
		}
	}

	// The connection broke, as net/http.Server breaks it: a new one must
	// serve the next request.
	conn2, err := net.DialTimeout("tcp", host, requestLimit)
	mustDo(t, err)
	defer conn2.Close()
	mustDo(t, conn2.SetDeadline(time.Now().Add(requestLimit)))
	sendGet(t, conn2, host, tg.script+"/status/201")
	resp, err = http.ReadResponse(bufio.NewReader(conn2), &http.Request{Method: "GET"})
	if err != nil {
		t.Fatalf("a new connection after the cut answer: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 201 || string(body) != "status 201\n" {
		t.Errorf("the answer after the cut one: %d %q (%v), want 201 \"status 201\\n\"", resp.StatusCode, body, err)
	}
}

// sendGet writes a GET request for target on conn.
func sendGet(t *testing.T, conn net.Conn, host, target string) {
	t.Helper()
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: cgiref-truncation\r\n\r\n", target, host); err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
}
