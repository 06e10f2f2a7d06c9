package environ

import (
	"bufio"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// checkRoundTrip asserts that NewRequest(FromRequest(r)) gives back r's
// method, URL, request target, header fields, content length, host, remote
// address, TLS state and body.
func checkRoundTrip(t *testing.T, r *http.Request, body string) {
	t.Helper()
	env := FromRequest(r)
	// as a CGI front end: no body without CONTENT_LENGTH unless chunked
	var in io.Reader
	if env["CONTENT_LENGTH"] != "" || env["HTTP_TRANSFER_ENCODING"] != "" {
		in = strings.NewReader(body)
	}
	got, err := NewRequest(env, in)
	if err != nil {
		t.Fatalf("NewRequest(FromRequest(%s %s)): %v (env %v)", r.Method, r.RequestURI, err, env)
	}
	if got.Method != r.Method || got.URL.String() != r.URL.String() || got.URL.Path != r.URL.Path ||
		got.URL.RawQuery != r.URL.RawQuery || got.URL.EscapedPath() != r.URL.EscapedPath() {
		t.Errorf("%s %q: got %s %q (Path %q), want Path %q", r.Method, r.RequestURI, got.Method, got.URL, got.URL.Path, r.URL.Path)
	}
	wantURI := r.RequestURI
	if wantURI == "" {
		wantURI = r.URL.RequestURI()
	}
	if got.RequestURI != wantURI {
		t.Errorf("RequestURI %q, want %q", got.RequestURI, wantURI)
	}
	want := wantHeader(r)
	if len(got.Header) != len(want) {
		t.Errorf("%q: header %v, want %v", r.RequestURI, got.Header, want)
	}
	for k, v := range want {
		if g := got.Header[k]; len(g) != 1 || g[0] != v {
			t.Errorf("%q: header %s = %q, want %q", r.RequestURI, k, g, v)
		}
	}
	wantLen := r.ContentLength
	if len(r.TransferEncoding) > 0 {
		wantLen = -1
	}
	if got.ContentLength != wantLen {
		t.Errorf("%q: ContentLength %d, want %d", r.RequestURI, got.ContentLength, wantLen)
	}
	if got.Host != r.Host || got.RemoteAddr != r.RemoteAddr || (got.TLS != nil) != (r.TLS != nil) {
		t.Errorf("%q: Host %q RemoteAddr %q TLS %v; want %q %q %v", r.RequestURI,
			got.Host, got.RemoteAddr, got.TLS != nil, r.Host, r.RemoteAddr, r.TLS != nil)
	}
	if got.Proto != r.Proto || got.ProtoMajor != r.ProtoMajor || got.ProtoMinor != r.ProtoMinor {
		t.Errorf("%q: Proto %q, want %q", r.RequestURI, got.Proto, r.Proto)
	}
	b, err := io.ReadAll(got.Body)
	if err != nil || string(b) != body {
		t.Errorf("%q: body %q, %v; want %q", r.RequestURI, b, err, body)
	}
}

// wantHeader is the header NewRequest(FromRequest(r)) gives: one value per
// field, joined with ", "; Cookie with its ", " separators made "; "; no
// "Content-Length: 0" on a method that does not carry a body (FromRequest
// passes it as CONTENT_LENGTH only, as Apache and lighttpd do, and a web
// server sends CONTENT_LENGTH 0 on every bodiless request).
func wantHeader(r *http.Request) map[string]string {
	want := make(map[string]string, len(r.Header))
	for k, vs := range r.Header {
		want[k] = strings.Join(vs, ", ")
	}
	if c, ok := want["Cookie"]; ok {
		want["Cookie"] = rejoinCookie(c)
	}
	if _, ok := want["Content-Length"]; ok && r.ContentLength == 0 && !keepLength(false, r.Method, 0) {
		delete(want, "Content-Length")
	}
	return want
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		method, target, remote, body string
		tls                          bool
		header                       http.Header
	}{
		{"GET", "/", "192.0.2.1:1234", "", false, nil},
		{"GET", "http://example.com/a/b?x=1&y=%20", "192.0.2.1:1234", "", false, nil},
		{"GET", "/a%2Fb/c%3Fd%23e%25f", "192.0.2.1:1234", "", false, nil},
		{"GET", "/caf%C3%A9/%E4?q=%FF", "[2001:db8::1]:443", "", true, nil},
		{"GET", "/caf\u00e9/\u2603", "[::1]:1", "", false, nil},
		{"GET", "//double//slash/./..", "192.0.2.1:1", "", false, nil},
		{"GET", "/sp%20ace;p=1,2", "192.0.2.1", "", false, nil},
		{"HEAD", "https://[::1]:8443/x", "192.0.2.1:5", "", true, nil},
		{"POST", "/form", "192.0.2.1:1234", "a=1&b=2", false, http.Header{
			"Content-Type": {"application/x-www-form-urlencoded"}, "Content-Length": {"7"}}},
		{"PUT", "/up", "192.0.2.1:1234", "raw body", false, http.Header{"Content-Length": {"8"},
			"X-Multi": {"a", "b"}, "Accept": {"*/*"}, "Cookie": {"a=1; b=2"}, "X-Weird": {"\xff\x01"}}},
		{"OPTIONS", "*", "192.0.2.1:1234", "", false, nil},
		{"PATCH", "/p?", "192.0.2.1:1234", "", false, http.Header{"User-Agent": {"t"}}},
	}
	for _, tt := range tests {
		var body io.Reader
		if tt.body != "" {
			body = strings.NewReader(tt.body)
		}
		r := httptest.NewRequest(tt.method, tt.target, body)
		r.RemoteAddr = tt.remote
		if !tt.tls {
			r.TLS = nil
		} else if r.TLS == nil {
			r.TLS = &tls.ConnectionState{}
		}
		for k, vs := range tt.header {
			r.Header[k] = vs
		}
		checkRoundTrip(t, r, tt.body)
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add("GET", "/a%2Fb?x=1", "X-Foo", "bar", "", true, uint8(0))
	f.Add("POST", "http://h:8080/p", "Content-Length", "3", "abc", false, uint8(1))
	f.Add("PUT", "/x", "Transfer-Encoding", "chunked", "3\r\nabc\r\n0\r\n\r\n", false, uint8(2))
	f.Add("GET", "/\xe4%20", "Accept", "a, b", "", false, uint8(3))
	f.Add("GET", "/", "X-A", "\n_: smuggled", "", false, uint8(0))
	f.Add("GET", "/", "Cookie", "a=1, b=2", "", false, uint8(0))
	f.Add("GET", "/", "Content-Length", "0", "", false, uint8(0))
	f.Fuzz(func(t *testing.T, method, target, name, value, body string, secure bool, remote uint8) {
		if strings.ContainsAny(name, "_\r\n") {
			return // CGI names cannot tell "_" from "-"; web servers drop such fields
		}
		if hasControl(value) {
			return // a field value with CR, LF or another control byte: refused (headers.CheckField)
		}
		raw := method + " " + target + " HTTP/1.1\r\nHost: example.com\r\n" + name + ": " + value + "\r\n\r\n" + body
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return
		}
		if len(r.Header["Host"]) > 0 {
			return // a second Host field: net/http.Server refuses it
		}
		for k := range r.Header {
			if !isToken(k) {
				return // net/http.Server refuses a field name that is not a token
			}
			if strings.Contains(k, "_") {
				t.Fatalf("a field %q got past the filters: %q", k, raw)
			}
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.RemoteAddr = []string{"192.0.2.1:1234", "[2001:db8::1]:80", "192.0.2.1", "::1"}[remote%4]
		if secure {
			r.TLS = &tls.ConnectionState{}
		}
		checkRoundTrip(t, r, string(b))
	})
}

func FuzzNewRequest(f *testing.F) {
	f.Add("GET", "/x?y", "/s", "/p", "q", "3", "HTTP/1.1", "on", "::1", "80", "X_A", "v", "abcdef")
	f.Add("CONNECT", "h:443", "", "", "", "", "INCLUDED", "", "", "", "TRANSFER_ENCODING", "chunked", "")
	f.Add("", "%zz", "", "", "", "-1", "HTTP/x", "", "", "", "HOST", "", "")
	f.Fuzz(func(t *testing.T, method, uri, sn, pi, qs, cl, proto, https, name, port, hk, hv, body string) {
		env := Environ{
			"REQUEST_METHOD": method, "REQUEST_URI": uri, "SCRIPT_NAME": sn, "PATH_INFO": pi,
			"QUERY_STRING": qs, "CONTENT_LENGTH": cl, "SERVER_PROTOCOL": proto, "HTTPS": https,
			"SERVER_NAME": name, "SERVER_PORT": port, "REMOTE_ADDR": name, "REMOTE_PORT": port,
			"HTTP_" + hk: hv, "CONTENT_TYPE": hv,
		}
		r, err := NewRequest(env, strings.NewReader(body))
		if (r == nil) == (err == nil) {
			t.Fatalf("NewRequest = %v, %v", r, err)
		}
		if err != nil {
			return
		}
		if r.URL == nil || r.Header == nil || r.Body == nil || r.Method != method {
			t.Fatalf("incomplete request %+v", r)
		}
		if _, ok := r.Header["Host"]; ok {
			t.Fatalf("Host in header: %v", r.Header)
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if r.ContentLength >= 0 && int64(len(b)) != min(r.ContentLength, int64(len(body))) {
			t.Fatalf("read %d bytes, ContentLength %d, body %d", len(b), r.ContentLength, len(body))
		}
		if r.ContentLength > int64(len(body)) && err == nil {
			t.Fatalf("short body without error")
		}
		// the utilities never panic on the same environ
		_ = RequestURI(env, true)
		for range 3 {
			ShiftPathInfo(env)
		}
	})
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !unreserved(c) && !strings.ContainsRune("!#$%&'*+^`|", rune(c)) {
			return false
		}
	}
	return true
}

// hasControl reports whether s holds a control byte other than TAB, as
// headers.CheckField refuses in a field value.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}
