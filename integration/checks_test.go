//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// errorBody is the gateway's answer to an app that panicked.
const errorBody = "A server error occurred.  Please contact the administrator."

// requestLimit bounds every request the tests make.
const requestLimit = 60 * time.Second

// target is one way to reach the check app through a server: a URL prefix
// that the server passes on as SCRIPT_NAME.
type target struct {
	srv    *server
	script string // the URL prefix and the SCRIPT_NAME the app sees
	// pathInfo maps the decoded PATH_INFO the tests ask for to what the
	// server passes on; nil means unchanged.
	pathInfo func(string) string
	// refusesChunked: the server answers 411 to a chunked request body
	// instead of passing it on.
	refusesChunked bool
	// dropsStderr: the server writes nothing of the FastCGI stderr stream
	// to its log, so a panic's stack cannot be checked there.
	dropsStderr bool
}

func (tg target) url(rest string) string { return tg.srv.base + tg.script + rest }

func (tg target) wantPathInfo(p string) string {
	if tg.pathInfo != nil {
		return tg.pathInfo(p)
	}
	return p
}

var client = &http.Client{
	Timeout: requestLimit,
	Transport: &http.Transport{
		Proxy:               nil,
		DisableCompression:  true,
		MaxIdleConnsPerHost: 8,
	},
}

// send makes the request and returns the answer with its whole body.
func send(t *testing.T, method, url string, body []byte, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return resp, b
}

// wantLines checks that the demo listing in body has each NAME = "value"
// line, quoted as Go's %q does.
func wantLines(t *testing.T, body []byte, vars map[string]string) {
	t.Helper()
	if !bytes.HasPrefix(body, []byte("Hello world!\n\n")) {
		t.Fatalf("the answer is not the demo listing:\n%s", body)
	}
	for name, value := range vars {
		line := fmt.Sprintf("\n%s = %q\n", name, value)
		if !bytes.Contains(body, []byte(line)) {
			t.Errorf("no line %q in the listing:\n%s", strings.TrimSpace(line), body)
		}
	}
}

func wantStatus(t *testing.T, resp *http.Response, code int, body []byte) {
	t.Helper()
	if resp.StatusCode != code {
		t.Fatalf("status %d, want %d; body:\n%s", resp.StatusCode, code, clip(body))
	}
}

func clip(b []byte) []byte {
	if len(b) > 2048 {
		return append(b[:2048:2048], "..."...)
	}
	return b
}

// checkGet: PATH_INFO, QUERY_STRING, SCRIPT_NAME and a request header.
func checkGet(t *testing.T, tg target) {
	resp, body := send(t, "GET", tg.url("/a/b?x=1&y=%20z"), nil, http.Header{"X-Test": {"v"}})
	wantStatus(t, resp, 200, body)
	wantLines(t, body, map[string]string{
		"REQUEST_METHOD": "GET",
		"SCRIPT_NAME":    tg.script,
		"PATH_INFO":      tg.wantPathInfo("/a/b"),
		"QUERY_STRING":   "x=1&y=%20z",
		"HTTP_X_TEST":    "v",
	})
}

// checkUTF8Path: /caf%C3%A9 reaches the app as the bytes of "/café".
func checkUTF8Path(t *testing.T, tg target) {
	resp, body := send(t, "GET", tg.url("/caf%C3%A9"), nil, nil)
	wantStatus(t, resp, 200, body)
	wantLines(t, body, map[string]string{"PATH_INFO": tg.wantPathInfo("/caf\xc3\xa9")})
}

// checkEcho: a POST body of size random bytes comes back intact.
func checkEcho(t *testing.T, tg target, size int) {
	in := make([]byte, size)
	if _, err := rand.Read(in); err != nil {
		t.Fatal(err)
	}
	const ctype = "application/x-cgiref-test"
	resp, out := send(t, "POST", tg.url("/echo"), in, http.Header{"Content-Type": {ctype}})
	wantStatus(t, resp, 200, out)
	if got := resp.Header.Get("Content-Type"); got != ctype {
		t.Errorf("Content-Type %q, want %q", got, ctype)
	}
	if len(out) != size || sha256.Sum256(out) != sha256.Sum256(in) {
		t.Errorf("echoed %d bytes (sha256 %x), sent %d (sha256 %x)",
			len(out), sha256.Sum256(out), size, sha256.Sum256(in))
	}
}

// checkEchoChunked: bodies of unknown length, sent chunked, come back
// intact (the server either buffers them and sets CONTENT_LENGTH or passes
// them on to their end). Some servers half-close the backend connection
// after such a request (lighttpd does, now and then): several rounds give
// that a chance to show.
func checkEchoChunked(t *testing.T, tg target, size int) {
	const rounds = 10
	for i := range rounds {
		if !echoChunked(t, tg, size) {
			t.Fatalf("round %d of %d failed", i+1, rounds)
		}
	}
}

// echoChunked sends one chunked body and reports whether the check passed.
func echoChunked(t *testing.T, tg target, size int) bool {
	t.Helper()
	in := make([]byte, size)
	if _, err := rand.Read(in); err != nil {
		t.Fatal(err)
	}
	// A reader of unknown length makes the client send the body chunked.
	req, err := http.NewRequest("POST", tg.url("/echo"), io.MultiReader(bytes.NewReader(in)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.ContentLength = -1
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("POST %s: %v", req.URL, err)
		return false
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("reading the body: %v (status %d, %d bytes)", err, resp.StatusCode, len(out))
		return false
	}
	want := http.StatusOK
	if tg.refusesChunked {
		want = http.StatusLengthRequired
	}
	if resp.StatusCode != want {
		t.Errorf("status %d, want %d; body:\n%s", resp.StatusCode, want, clip(out))
		return false
	}
	if want == http.StatusOK && !bytes.Equal(out, in) {
		t.Errorf("echoed %d bytes (sha256 %x), sent %d (sha256 %x)",
			len(out), sha256.Sum256(out), size, sha256.Sum256(in))
		return false
	}
	return true
}

// checkStatus: the status an app sets reaches the client.
func checkStatus(t *testing.T, tg target) {
	resp, body := send(t, "GET", tg.url("/status/418"), nil, nil)
	wantStatus(t, resp, 418, body)
	if string(body) != "status 418\n" {
		t.Errorf("body %q, want %q", body, "status 418\n")
	}
}

// streamResult is what one /stream request saw.
type streamResult struct {
	status        int
	first, second string
	gap           time.Duration // between the two lines' arrival
	err           error
}

func getStream(tg target) streamResult {
	var r streamResult
	resp, err := client.Get(tg.url("/stream"))
	if err != nil {
		r.err = err
		return r
	}
	defer resp.Body.Close()
	r.status = resp.StatusCode
	br := bufio.NewReader(resp.Body)
	if r.first, r.err = br.ReadString('\n'); r.err != nil {
		return r
	}
	t1 := time.Now()
	r.second, r.err = br.ReadString('\n')
	r.gap = time.Since(t1)
	if r.err == nil {
		var rest []byte
		rest, r.err = io.ReadAll(br)
		r.second += string(rest)
	}
	return r
}

// checkStream: a flushed first chunk reaches the client well before the
// handler writes the second, a second later.
func checkStream(t *testing.T, tg target) {
	r := getStream(tg)
	if r.err != nil {
		t.Fatalf("GET /stream: %v", r.err)
	}
	if r.status != 200 || r.first != "first\n" || r.second != "second\n" {
		t.Fatalf("got %d %q %q, want 200 \"first\\n\" \"second\\n\"", r.status, r.first, r.second)
	}
	if r.gap < 500*time.Millisecond {
		t.Errorf("the second line came %v after the first: the first was held back until the end", r.gap)
	}
}

// checkPanic: a panicking handler gets the gateway's 500 answer while a
// request running at the same time completes normally; the panic and its
// stack are logged (by the server, from FastCGI's stderr stream or the
// spawned process's stderr, or in the backend's own log).
func checkPanic(t *testing.T, tg target) {
	before := tg.srv.logSizes()
	var wg sync.WaitGroup
	var other streamResult
	wg.Add(1)
	go func() {
		defer wg.Done()
		other = getStream(tg)
	}()
	time.Sleep(200 * time.Millisecond) // the other request is in the handler
	resp, body := send(t, "GET", tg.url("/panic"), nil, nil)
	wg.Wait()
	wantPanicAnswer(t, resp, body)
	if other.err != nil || other.status != 200 || other.first+other.second != "first\nsecond\n" {
		t.Errorf("the request beside the panic: status %d, body %q, error %v; want 200 \"first\\nsecond\\n\"",
			other.status, other.first+other.second, other.err)
	}
	if !tg.dropsStderr {
		waitPanicLogged(t, tg.srv, before)
	}
}

func wantPanicAnswer(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	wantStatus(t, resp, 500, body)
	if string(body) != errorBody {
		t.Errorf("body %q, want %q", body, errorBody)
	}
	if got := resp.Header.Get("Content-Type"); got != "text/plain" {
		t.Errorf("Content-Type %q, want text/plain", got)
	}
}

// stackFrame matches a frame of a Go stack trace.
var stackFrame = regexp.MustCompile(`\.go:\d+`)

// checkPanicLogged: under CGI the panic answer is 500 and the panic value
// with its stack ends up in the server's error log.
func checkPanicLogged(t *testing.T, tg target) {
	before := tg.srv.logSizes()
	resp, body := send(t, "GET", tg.url("/panic"), nil, nil)
	wantPanicAnswer(t, resp, body)
	waitPanicLogged(t, tg.srv, before)
}

// waitPanicLogged waits (a bounded time) for a panic with a stack trace in
// what the logs of s gained since before.
func waitPanicLogged(t *testing.T, s *server, before map[string]int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		added := s.logsSince(before)
		if strings.Contains(added, "panic") && stackFrame.MatchString(added) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no panic with a stack trace in the logs after the request; they gained:\n%s", added)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkFiles: the files app serves a file, answers 404 for a missing one
// and never a file outside its folder.
func checkFiles(t *testing.T, tg target) {
	t.Run("found", func(t *testing.T) {
		resp, body := send(t, "GET", tg.url("/files/hello.txt"), nil, nil)
		wantStatus(t, resp, 200, body)
		if string(body) != helloText {
			t.Errorf("body %q, want %q", body, helloText)
		}
	})
	t.Run("missing", func(t *testing.T) {
		resp, body := send(t, "GET", tg.url("/files/missing"), nil, nil)
		wantStatus(t, resp, 404, body)
	})
	t.Run("traversal", func(t *testing.T) {
		// The servers refuse these themselves, or pass them on decoded.
		for _, p := range []string{
			"/files/..%2f..%2f..%2f..%2f..%2f..%2fetc/passwd",
			"/files/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
		} {
			resp, body := send(t, "GET", tg.url(p), nil, nil)
			if bytes.Contains(body, []byte("root:")) {
				t.Errorf("GET %s served /etc/passwd", p)
			}
			if resp.StatusCode != 404 && resp.StatusCode != 400 {
				t.Errorf("GET %s: status %d, want 404 (or the server's own 400)", p, resp.StatusCode)
			}
		}
		// Encoded twice, this reaches the app as PATH_INFO
		// /files/..%2f..%2f...: the app must not decode it again.
		p := "/files/..%252f..%252f..%252f..%252f..%252f..%252fetc%252fpasswd"
		resp, body := send(t, "GET", tg.url(p), nil, nil)
		wantStatus(t, resp, 404, body)
		if string(body) != "404 page not found\n" {
			t.Errorf("GET %s: body %q, want the app's 404 page", p, body)
		}
	})
}

// Sizes of the echoed bodies.
const (
	kib = 1 << 10
	mib = 1 << 20
)

// runCommon runs the checks every FastCGI and SCGI target gets.
func runCommon(t *testing.T, tg target) {
	t.Run("get", func(t *testing.T) { checkGet(t, tg) })
	t.Run("utf8-path", func(t *testing.T) { checkUTF8Path(t, tg) })
	for _, n := range []int{0, 1, 64 * kib, 10 * mib} {
		t.Run("echo-"+sizeName(n), func(t *testing.T) { checkEcho(t, tg, n) })
	}
	t.Run("echo-chunked", func(t *testing.T) { checkEchoChunked(t, tg, 64*kib) })
	t.Run("status", func(t *testing.T) { checkStatus(t, tg) })
	t.Run("panic", func(t *testing.T) { checkPanic(t, tg) })
}

func sizeName(n int) string {
	switch {
	case n >= mib && n%mib == 0:
		return strconv.Itoa(n/mib) + "MiB"
	case n >= kib && n%kib == 0:
		return strconv.Itoa(n/kib) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
