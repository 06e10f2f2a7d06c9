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
	"slices"
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

// cutFront is a FastCGI or SCGI front of a server, with what the server
// was measured to do where it does not pass a cut answer on (README.md, "A
// cut answer", lists them). Every other case must end with a transfer
// error, and the keep-alive check must find the connection broken.
type cutFront struct {
	script string
	// whole: cases the server ends as if they were whole (curl exit 0).
	whole []string
	// racy: cases the server ends either way from one run to the next
	// (curl exit 0 or 18); only the bytes are checked.
	racy []string
	// held: cases the server holds back (mod_fcgid, a short answer after
	// an invalid record): the client gets nothing until its own timeout
	// (curl 28), or, once Apache's own timeout fires, the app's bytes
	// completed by Apache's error page (curl 0). Both were measured.
	held []string
	// desync: the server keeps the client's connection after a cut answer
	// with a Content-Length, and the next answer completes its body
	// ("always"), or does so when the cut reaches it before its own
	// error ("may"); "" means never.
	desync string
}

// TestTruncation checks with curl, through every FastCGI and SCGI front of
// every server, that a cut answer reaches the client as a transfer error,
// and that a keep-alive client connection is never desynchronised by one.
func TestTruncation(t *testing.T) {
	curl, err := lookPath("curl")
	if err != nil {
		t.Fatalf("curl: %v (scripts/integration.sh installs it)", err)
	}
	chunked := []string{"panic", "abort"}
	peers := []struct {
		name   string
		start  func(*testing.T) *server
		fronts []cutFront
	}{
		{"nginx", startNginx, []cutFront{{script: "/fcgi-tcp"}, {script: "/fcgi-unix"}, {script: "/fcgi-keep"}, {script: "/scgi"}}},
		{"lighttpd", startLighttpd, []cutFront{
			{script: "/fcgi", racy: chunked}, {script: "/fcgi-tcp", racy: chunked}, {script: "/scgi", racy: chunked}}},
		{"apache", func(t *testing.T) *server { return startApache(t, "event", "cgid") }, []cutFront{
			{script: "/fcgi", desync: "always"},
			{script: "/fcgid", whole: []string{"panic", "abort"}, held: []string{"short"}, desync: "always"},
			{script: "/scgi", desync: "may"}}},
		{"caddy", startCaddy, []cutFront{{script: "/fcgi", whole: chunked}}},
	}
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			srv := p.start(t)
			for _, f := range p.fronts {
				tg := target{srv: srv, script: f.script}
				t.Run(f.script[1:], func(t *testing.T) {
					for _, c := range cutCases {
						t.Run(c.name, func(t *testing.T) { checkCut(t, curl, tg, c, f) })
					}
					t.Run("keepalive", func(t *testing.T) { checkNoDesync(t, tg, f.desync) })
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
	cmd := exec.Command(curl, "--http1.1", "--silent", "--show-error", "--max-time", "8",
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

// checkCut fetches the cut answer c with curl: the client must see a
// transfer error (or the server's own error status, when the cut reached it
// before the answer's header went on), unless the front is known to end it
// as whole.
func checkCut(t *testing.T, curl string, tg target, c cutCase, f cutFront) {
	r := runCurl(t, curl, tg.url(c.path))
	t.Logf("%s%s: curl exit %d after %ss, status %s, %d body bytes %q; %s", tg.srv.name, tg.script, r.exit, r.time, r.status, len(r.body), clip(r.body), r.stderr)
	switch {
	case slices.Contains(f.whole, c.name):
		if r.exit != 0 || r.status != "200" || !bytes.HasPrefix(r.body, []byte(c.sent)) {
			t.Errorf("curl exit %d, status %s, body %q; this server was measured to end the cut answer as whole: exit 0, 200, the app's %q first", r.exit, r.status, r.body, c.sent)
		}
	case slices.Contains(f.racy, c.name):
		if (r.exit != 0 && r.exit != 18) || r.status != "200" || string(r.body) != c.sent {
			t.Errorf("curl exit %d, status %s, body %q; this server was measured to give exit 0 or 18, 200 and the app's %q", r.exit, r.status, r.body, c.sent)
		}
	case slices.Contains(f.held, c.name):
		if !(r.exit == 28 && len(r.body) == 0) && !(r.exit == 0 && bytes.HasPrefix(r.body, []byte(c.sent))) {
			t.Errorf("curl exit %d, status %s, body %q; this server was measured to hold the answer back: exit 28 and nothing, or exit 0 and the app's %q first", r.exit, r.status, r.body, c.sent)
		}
	case r.exit == 0:
		t.Errorf("curl exit 0 (status %s, body %q): the client took the cut answer for a whole one", r.status, r.body)
	}
}

// desyncWait bounds each wait for the bytes of the cut answer, and
// settleWait is how long the server has to end the connection after the
// app's bytes came before the next request goes on it.
const (
	desyncWait = 5 * time.Second
	settleWait = time.Second
)

// checkNoDesync sends, on one keep-alive client connection, a request whose
// answer declares 10 bytes and has 5, then a normal one. The first may fail
// in any way but one: the server must not leave the connection open as if
// the answer had ended, for then the second answer's bytes complete the
// first body. The second answer must be whole and its own.
func checkNoDesync(t *testing.T, tg target, desync string) {
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
		n, err := io.ReadFull(resp.Body, first[:5])
		if err == nil {
			// The app's 5 bytes came: the server must now end the
			// connection. Past settleWait, send the next request on it and
			// see where its bytes go.
			mustDo(t, conn.SetReadDeadline(time.Now().Add(settleWait)))
			var m int
			m, err = io.ReadFull(resp.Body, first[5:])
			n += m
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Logf("the connection is still open %v after the cut answer: sending the next request on it", settleWait)
				mustDo(t, conn.SetDeadline(time.Now().Add(desyncWait)))
				if _, werr := fmt.Fprintf(conn, "GET %s/status/201 HTTP/1.1\r\nHost: %s\r\n\r\n", tg.script, host); werr == nil {
					// The body's framing is the first answer's: read on
					// below it, as a client that trusts it would.
					m, err = io.ReadFull(br, first[n:])
					n += m
				}
			}
		}
		switch {
		case err == nil && resp.StatusCode != 200:
			t.Logf("the server answered with its own error: %d %q", resp.StatusCode, first)
		case err == nil && desync != "":
			t.Logf("the cut answer came whole, status %d, body %q: the connection is out of step, as measured before (%s)", resp.StatusCode, first, desync)
			return
		case err == nil:
			t.Errorf("the cut answer came whole, status %d, body %q: the connection is out of step", resp.StatusCode, first)
		case errors.As(err, new(net.Error)) && err.(net.Error).Timeout():
			t.Errorf("the server left the connection open after the cut answer (status %d, %q) and the next request got nothing on it: %v", resp.StatusCode, first[:n], err)
		case desync == "always":
			t.Errorf("the cut answer: status %d, %q, then %v; this server was measured to keep the connection and complete the body with the next answer: update README.md", resp.StatusCode, first[:n], err)
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
