//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cgiref/cgiref/internal/observe"
)

// TestDifferential sends the same requests to the check app's /observe
// through every front end behind every real server, and to the same handler
// (internal/observe) run by net/http.Server itself, and compares what the
// handler observed: method, URL parts, RequestURI, Host, Proto,
// ContentLength, TransferEncoding, NoBody, every header field, cookies, TLS,
// RemoteAddr's shape, the body and its read error, Close.
//
// Any difference fails, except those in this list, which the protocols or
// the web servers themselves make (README.md, "What an app can tell"):
//
//   - RemoteAddr: another port; only its shape ("ip:port") is compared.
//   - A field sent on several lines is one field, its values joined with
//     ", " ("; " for Cookie): a CGI variable has one value. The values are
//     compared joined.
//   - A chunked body that the server reads whole before passing it on
//     (nginx, lighttpd, Apache mod_proxy_fcgi and mod_fcgid: dechunks)
//     arrives with its length: ContentLength and a Content-Length field
//     instead of TransferEncoding ["chunked"].
//   - Debian's nginx (1.22.1-9+deb12u12 and later) passes HTTP_HOST as $host
//     in its stock fastcgi_params and scgi_params: the Host without its port
//     (hostDropsPort).
//   - Caddy's reverse_proxy adds X-Forwarded-For, X-Forwarded-Host and
//     X-Forwarded-Proto, an empty User-Agent when the client sent none, and
//     Content-Type application/x-www-form-urlencoded to a request other than
//     GET, HEAD and OPTIONS that has none; it passes REQUEST_URI escaped
//     again as Go's url.URL.RequestURI does (a raw UTF-8 path arrives
//     percent-encoded) (caddy).
//   - Apache mod_fcgid adds "Connection: close" (addsConnClose).
//   - A request the server answers itself (Apache: an encoded slash is 404
//     without AllowEncodedSlashes; mod_proxy_scgi: 411 for a chunked body)
//     never reaches the app; the status is checked instead.
func TestDifferential(t *testing.T) {
	ref := startReference(t)
	peers := []struct {
		name    string
		start   func(*testing.T) *server
		targets []diffTarget
	}{
		{"nginx", startNginx, []diffTarget{
			// /fcgi-unix includes Debian's stock fastcgi_params; the
			// others docs/conf/cgiref_*_params, which keep the port.
			{script: "/fcgi-tcp", dechunks: true},
			{script: "/fcgi-unix", dechunks: true, hostDropsPort: true},
			{script: "/fcgi-keep", dechunks: true},
			{script: "/scgi", dechunks: true},
		}},
		{"lighttpd", startLighttpd, []diffTarget{
			{script: "/fcgi", dechunks: true},
			{script: "/scgi", dechunks: true},
			{script: "/cgi/auto", dechunks: true},
		}},
		{"apache", func(t *testing.T) *server { return startApache(t, "event", "cgid") }, []diffTarget{
			{script: "/fcgi", dechunks: true, answers: apacheAnswers},
			{script: "/fcgid", dechunks: true, addsConnClose: true, answers: apacheAnswers},
			{script: "/scgi", answers: merge(apacheAnswers, map[string]int{"post-chunked": http.StatusLengthRequired})},
			{script: "/cgi/auto", answers: apacheAnswers},
		}},
		{"caddy", startCaddy, []diffTarget{
			{script: "/fcgi", caddy: true},
		}},
	}
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			srv := p.start(t)
			for _, tg := range p.targets {
				tg.srv = srv
				t.Run(tg.script[1:], func(t *testing.T) {
					for _, c := range diffCases {
						t.Run(c.name, func(t *testing.T) { compare(t, ref, tg, c) })
					}
				})
			}
		})
	}
}

// apacheAnswers: Apache refuses an encoded slash itself (AllowEncodedSlashes
// is Off by default).
var apacheAnswers = map[string]int{"encoded-slash": http.StatusNotFound}

func merge(a, b map[string]int) map[string]int {
	m := make(map[string]int, len(a)+len(b))
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

// diffTarget is one front end behind one server, and what that server
// changes of a request.
type diffTarget struct {
	srv    *server
	script string // the URL prefix the server routes to the check app
	// dechunks: the server reads a chunked body whole and passes it with its
	// length.
	dechunks bool
	// hostDropsPort: HTTP_HOST is nginx's $host, without the port.
	hostDropsPort bool
	// caddy: the changes Caddy's reverse_proxy makes (see TestDifferential).
	caddy bool
	// addsConnClose: the server adds "Connection: close".
	addsConnClose bool
	// answers: cases the server answers itself with this status.
	answers map[string]int
}

// diffCase is one client request; path follows the target's prefix.
type diffCase struct {
	name    string
	method  string
	path    string
	header  []string // "Name: value" lines, in order, repeats kept
	body    []byte
	chunked bool // send body chunked, in three chunks
}

var diffCases = []diffCase{
	{name: "get", method: "GET", path: "/observe/a/b?x=1&y=%20z",
		header: []string{"User-Agent: cgiref-differential", "Accept: */*", "X-Test: v"}},
	{name: "head", method: "HEAD", path: "/observe/a/b?x=1",
		header: []string{"User-Agent: cgiref-differential", "Accept: */*"}},
	{name: "repeated-fields", method: "GET", path: "/observe",
		header: []string{"X-Multi: a", "Accept: text/html", "X-Multi: b, c", "X-Hop: 192.0.2.1", "X-Hop: 192.0.2.2"}},
	{name: "cookies", method: "GET", path: "/observe",
		header: []string{"Cookie: a=1", "Cookie: b=2; c=3", `Cookie: q="x, y=z"`}},
	{name: "post-empty", method: "POST", path: "/observe",
		header: []string{"Content-Length: 0", "Content-Type: application/x-www-form-urlencoded"}},
	{name: "post-fixed", method: "POST", path: "/observe/post",
		header: []string{"Content-Type: text/plain", "Content-Length: 1000"}, body: bytes.Repeat([]byte("0123456789"), 100)},
	{name: "post-chunked", method: "POST", path: "/observe/post",
		header: []string{"Content-Type: application/octet-stream"}, body: bytes.Repeat([]byte("abcdefghij"), 300), chunked: true},
	{name: "put-fixed", method: "PUT", path: "/observe/put",
		header: []string{"Content-Length: 5"}, body: []byte("hello")},
	{name: "delete", method: "DELETE", path: "/observe/item/1"},
	{name: "utf8-encoded", method: "GET", path: "/observe/caf%C3%A9/%E2%98%83"},
	{name: "utf8-raw", method: "GET", path: "/observe/caf\xc3\xa9"},
	{name: "encoded-specials", method: "GET", path: "/observe/a%20b%3Fc%23d%25e;p=1"},
	{name: "encoded-slash", method: "GET", path: "/observe/a%2Fb"},
	{name: "odd-query", method: "GET", path: "/observe?a=1&a=2&b&=x&c=%zz&d=a+b;e&f=/g?h"},
	{name: "empty-query", method: "GET", path: "/observe?"},
	{name: "encoded-query", method: "GET", path: "/observe?q=caf%C3%A9&r=%E4%20%2B"},
}

// startReference runs the observe handler under net/http.Server on
// 127.0.0.1 and returns its address.
func startReference(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	mustDo(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(observe.Handler), ReadHeaderTimeout: requestLimit}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return l.Addr().String()
}

// compare sends c to the reference and through tg and compares the reports.
func compare(t *testing.T, ref string, tg diffTarget, c diffCase) {
	host := strings.TrimPrefix(tg.srv.base, "http://")
	target := tg.script + c.path
	resp, body := rawRequest(t, host, host, target, c)
	if want, ok := tg.answers[c.name]; ok {
		if resp.StatusCode != want {
			t.Errorf("status %d, want the server's own %d; body:\n%s", resp.StatusCode, want, clip(body))
		}
		return
	}
	got := report(t, resp, body)
	refResp, refBody := rawRequest(t, ref, host, target, c)
	want := report(t, refResp, refBody)
	if diffs := differences(normalize(want, tg, c, false), normalize(got, tg, c, true)); len(diffs) > 0 {
		t.Errorf("%s %q: the app observes what net/http.Server does not give:\n%s", c.method, target, strings.Join(diffs, "\n"))
	}
}

// rawRequest sends c for target to addr with the Host field host, on a
// connection of its own, and returns the answer with its whole body.
func rawRequest(t *testing.T, addr, host, target string, c diffCase) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, requestLimit)
	mustDo(t, err)
	defer conn.Close()
	mustDo(t, conn.SetDeadline(time.Now().Add(requestLimit)))
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", c.method, target, host)
	for _, h := range c.header {
		b.WriteString(h + "\r\n")
	}
	if c.chunked {
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		n := len(c.body) / 3
		for _, part := range [][]byte{c.body[:n], c.body[n : 2*n], c.body[2*n:]} {
			fmt.Fprintf(&b, "%x\r\n%s\r\n", len(part), part)
		}
		b.WriteString("0\r\n\r\n")
	} else {
		b.WriteString("\r\n")
		b.Write(c.body)
	}
	if _, err := conn.Write(b.Bytes()); err != nil {
		t.Fatalf("%s %s to %s: %v", c.method, target, addr, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: c.method})
	if err != nil {
		t.Fatalf("%s %s to %s: reading the answer: %v", c.method, target, addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s to %s: reading the body: %v", c.method, target, addr, err)
	}
	return resp, body
}

// report decodes the observe report of an answer.
func report(t *testing.T, resp *http.Response, body []byte) *observe.Report {
	t.Helper()
	f := resp.Header.Get(observe.HeaderName)
	if resp.StatusCode != http.StatusOK || f == "" {
		t.Fatalf("status %d, %s %q; want 200 with a report; body:\n%s", resp.StatusCode, observe.HeaderName, f, clip(body))
	}
	rep, err := observe.Decode(f)
	if err != nil {
		t.Fatalf("decoding the report: %v", err)
	}
	return rep
}

// normalize returns the parts of rep to compare, with the documented
// differences taken out (see TestDifferential).
func normalize(rep *observe.Report, tg diffTarget, c diffCase, viaServer bool) map[string]any {
	r := *rep
	r.RemoteAddr = "" // the port differs; RemoteShape stays
	header := make(map[string]string, len(r.Header))
	for k, vs := range r.Header {
		sep := ", "
		if k == "Cookie" {
			sep = "; "
		}
		header[k] = strings.Join(vs, sep)
	}
	switch {
	case viaServer && tg.caddy:
		for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
			delete(header, k)
		}
		if header["User-Agent"] == "" {
			delete(header, "User-Agent")
		}
		switch c.method {
		case "GET", "HEAD", "OPTIONS":
		default:
			if !hasField(c.header, "Content-Type") && header["Content-Type"] == "application/x-www-form-urlencoded" {
				delete(header, "Content-Type")
			}
		}
	case viaServer && tg.addsConnClose:
		if header["Connection"] == "close" {
			delete(header, "Connection")
		}
	case !viaServer && tg.hostDropsPort:
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			r.Host = h
		}
	case !viaServer && tg.caddy:
		// REQUEST_URI is u.RequestURI(): RawPath only when it is a valid
		// encoding of Path, as EscapedPath has it.
		if r.URL.RawPath != r.URL.EscapedPath {
			r.URL.RawPath = ""
		}
		r.RequestURI = r.URL.EscapedPath
		if r.URL.ForceQuery || r.URL.RawQuery != "" {
			r.RequestURI += "?" + r.URL.RawQuery
		}
	}
	if !viaServer && c.chunked && tg.dechunks {
		r.ContentLength = int64(r.BodyLen)
		r.TransferEncoding = nil
		header["Content-Length"] = strconv.Itoa(r.BodyLen)
	}
	r.Header = nil
	b, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	m["Header"] = header
	return m
}

// differences lists the keys of want and got whose values differ, one line
// each.
func differences(want, got map[string]any) []string {
	keys := make(map[string]bool)
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	var lines []string
	for k := range keys {
		w, g := want[k], got[k]
		if reflect.DeepEqual(w, g) {
			continue
		}
		if wm, ok := w.(map[string]string); ok {
			gm := g.(map[string]string)
			for name := range merge2(wm, gm) {
				wv, wok := wm[name]
				gv, gok := gm[name]
				if wv != gv || wok != gok {
					lines = append(lines, fmt.Sprintf("  Header %s: got %s, net/http gives %s", name, show(gv, gok), show(wv, wok)))
				}
			}
			continue
		}
		lines = append(lines, fmt.Sprintf("  %s: got %s, net/http gives %s", k, js(g), js(w)))
	}
	sort.Strings(lines)
	return lines
}

// hasField reports whether the "Name: value" lines have a field name.
func hasField(lines []string, name string) bool {
	for _, l := range lines {
		if n, _, ok := strings.Cut(l, ":"); ok && strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

func merge2(a, b map[string]string) map[string]bool {
	m := make(map[string]bool)
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}

func show(v string, ok bool) string {
	if !ok {
		return "(none)"
	}
	return strconv.Quote(v)
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
