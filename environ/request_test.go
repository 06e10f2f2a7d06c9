package environ

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func base(kv ...string) Environ {
	env := Environ{"REQUEST_METHOD": "GET", "SERVER_NAME": "example.com", "SERVER_PORT": "80"}
	for i := 0; i+1 < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	return env
}

func TestNewRequestURL(t *testing.T) {
	tests := []struct {
		env                  Environ
		path, rawPath, query string
		requestURI           string
	}{
		{base("REQUEST_URI", "/a/b?x=1"), "/a/b", "", "x=1", "/a/b?x=1"},
		{base("REQUEST_URI", "/a%2Fb/%E4?q"), "/a/b/\xe4", "/a%2Fb/%E4", "q", "/a%2Fb/%E4?q"},
		{base("REQUEST_URI", "*", "REQUEST_METHOD", "OPTIONS"), "*", "", "", "*"},
		{base("REQUEST_URI", "http://h/p?q"), "/p", "", "q", "http://h/p?q"},
		// a REQUEST_URI that does not parse: the URL is rebuilt, RequestURI kept
		{base("REQUEST_URI", "/bad%zz", "PATH_INFO", "/bad%zz"), "/bad%zz", "", "", "/bad%zz"},
		// reconstruction: never re-parsed
		{base("SCRIPT_NAME", "/app", "PATH_INFO", "/a?b#c%d", "QUERY_STRING", "x=%20"),
			"/app/a?b#c%d", "", "x=%20", "/app/a%3Fb%23c%25d?x=%20"},
		{base("PATH_INFO", "/sp am/\xe4"), "/sp am/\xe4", "", "", "/sp%20am/%E4"},
		{base(), "", "", "", ""},
		{base("SCRIPT_NAME", "/s"), "/s", "", "", "/s"},
	}
	for _, tt := range tests {
		r, err := NewRequest(tt.env, nil)
		if err != nil {
			t.Errorf("NewRequest(%v): %v", tt.env, err)
			continue
		}
		u := r.URL
		if u.Path != tt.path || u.RawPath != tt.rawPath || u.RawQuery != tt.query || r.RequestURI != tt.requestURI {
			t.Errorf("NewRequest(%v): Path %q RawPath %q RawQuery %q RequestURI %q; want %q %q %q %q",
				tt.env, u.Path, u.RawPath, u.RawQuery, r.RequestURI, tt.path, tt.rawPath, tt.query, tt.requestURI)
		}
	}
}

func TestNewRequestURLOriginForm(t *testing.T) {
	r, err := NewRequest(base("REQUEST_URI", "/x", "HTTPS", "on", "HTTP_HOST", "h"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.URL.Scheme != "" || r.URL.Host != "" {
		t.Errorf("URL %#v not in origin form", r.URL)
	}
	r, err = NewRequest(base("REQUEST_METHOD", "CONNECT", "REQUEST_URI", "h.example:443"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.URL.Host != "h.example:443" || r.URL.Scheme != "" || r.RequestURI != "h.example:443" {
		t.Errorf("CONNECT URL %#v, RequestURI %q", r.URL, r.RequestURI)
	}
}

func TestNewRequestHost(t *testing.T) {
	tests := []struct {
		env  Environ
		want string
	}{
		{base("HTTP_HOST", "h.example:8080"), "h.example:8080"},
		{base("HTTP_HOST", ""), "example.com"},
		{base("SERVER_PORT", "8080"), "example.com:8080"},
		{base("SERVER_PORT", "443"), "example.com:443"},
		{base("SERVER_PORT", "443", "HTTPS", "on"), "example.com"},
		{base("SERVER_PORT", "80", "HTTPS", "on"), "example.com:80"},
		{base("SERVER_PORT", ""), "example.com"},
		{base("SERVER_NAME", "::1", "SERVER_PORT", "8080"), "[::1]:8080"},
		{base("SERVER_NAME", "::1"), "[::1]"},
		{base("SERVER_NAME", "[::1]", "SERVER_PORT", "81"), "[::1]:81"},
	}
	for _, tt := range tests {
		r, err := NewRequest(tt.env, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Host != tt.want {
			t.Errorf("NewRequest(%v).Host = %q, want %q", tt.env, r.Host, tt.want)
		}
		if _, ok := r.Header["Host"]; ok {
			t.Errorf("NewRequest(%v): Host kept in r.Header", tt.env)
		}
	}
}

func TestNewRequestHeader(t *testing.T) {
	tests := []struct {
		env    Environ
		want   http.Header
		length int64
		te     []string
	}{
		{base("HTTP_X_FOO", "1", "HTTP_ACCEPT_ENCODING", "gzip", "HTTP_USER_AGENT", "u", "HTTP_HOST", "h"),
			http.Header{"X-Foo": {"1"}, "Accept-Encoding": {"gzip"}, "User-Agent": {"u"}}, 0, nil},
		{base("HTTP_X_WEIRD__NAME", "v", "HTTP_x_lower", "w"), http.Header{"X-Weird--Name": {"v"}, "X-Lower": {"w"}}, 0, nil},
		// nginx's stock params: both, and empty on GET
		{base("CONTENT_TYPE", "", "CONTENT_LENGTH", ""), http.Header{}, 0, nil},
		{base("CONTENT_TYPE", "text/plain", "HTTP_CONTENT_TYPE", "text/html", "CONTENT_LENGTH", "5", "HTTP_CONTENT_LENGTH", "5"),
			http.Header{"Content-Type": {"text/plain"}, "Content-Length": {"5"}}, 5, nil},
		{base("CONTENT_TYPE", "", "HTTP_CONTENT_TYPE", "text/html"), http.Header{"Content-Type": {"text/html"}}, 0, nil},
		{base("HTTP_CONTENT_TYPE", "text/html"), http.Header{"Content-Type": {"text/html"}}, 0, nil},
		// HTTP_CONTENT_LENGTH alone says nothing about the body the app gets
		{base("HTTP_CONTENT_LENGTH", "7"), http.Header{}, 0, nil},
		// CONTENT_LENGTH 0 on a bodiless GET (lighttpd, Caddy, SCGI): no
		// field the client never sent; kept when it did send one (nginx
		// passes HTTP_CONTENT_LENGTH too) and for methods whose clients send
		// "Content-Length: 0"
		{base("CONTENT_LENGTH", "0"), http.Header{}, 0, nil},
		{base("CONTENT_LENGTH", "0", "REQUEST_METHOD", "HEAD"), http.Header{}, 0, nil},
		{base("CONTENT_LENGTH", "0", "HTTP_CONTENT_LENGTH", "0"), http.Header{"Content-Length": {"0"}}, 0, nil},
		{base("CONTENT_LENGTH", "0", "REQUEST_METHOD", "POST"), http.Header{"Content-Length": {"0"}}, 0, nil},
		{base("CONTENT_LENGTH", "0", "REQUEST_METHOD", "PUT"), http.Header{"Content-Length": {"0"}}, 0, nil},
		{base("CONTENT_LENGTH", "0", "REQUEST_METHOD", "PATCH"), http.Header{"Content-Length": {"0"}}, 0, nil},
		{base("CONTENT_LENGTH", "0", "REQUEST_METHOD", "DELETE"), http.Header{}, 0, nil},
		{base("CONTENT_LENGTH", "3", "REQUEST_METHOD", "DELETE"), http.Header{"Content-Length": {"3"}}, 3, nil},
		// no body at all (nil): a known length of 0, never chunked
		{base("HTTP_TRANSFER_ENCODING", "chunked"), http.Header{}, 0, nil},
		// a de-chunked body with its length (nginx): no Transfer-Encoding
		{base("HTTP_TRANSFER_ENCODING", "chunked", "CONTENT_LENGTH", "10", "REQUEST_METHOD", "POST"),
			http.Header{"Content-Length": {"10"}}, 10, nil},
		{base("HTTP_TRANSFER_ENCODING", "Chunked ", "CONTENT_LENGTH", "0", "REQUEST_METHOD", "POST"),
			http.Header{"Content-Length": {"0"}}, 0, nil},
		{base("HTTP_TRANSFER_ENCODING", "gzip"), http.Header{"Transfer-Encoding": {"gzip"}}, 0, nil},
		{base("HTTP_COOKIE", "a=1; b=2", "HTTP_ACCEPT", "a, b"), http.Header{"Cookie": {"a=1; b=2"}, "Accept": {"a, b"}}, 0, nil},
		// Cookie lines joined with ", " (Apache, Caddy)
		{base("HTTP_COOKIE", "a=1, b=2; c=3"), http.Header{"Cookie": {"a=1; b=2; c=3"}}, 0, nil},
		// variables that name one field: both values, in the order of
		// the names, whatever order a map gives them in; the rules of a
		// field hold in every letter case
		{base("HTTP_COOKIE", "a", "HTTP_CoOKIE", "b", "HTTP_cookie", "c"), http.Header{"Cookie": {"a", "b", "c"}}, 0, nil},
		{base("HTTP_X_A", "1", "HTTP_X_a", "2"), http.Header{"X-A": {"1", "2"}}, 0, nil},
		{base("HTTP_HoST", "h", "HTTP_Content_Length", "9"), http.Header{}, 0, nil},
		{base("CONTENT_TYPE", "text/plain", "HTTP_content_type", "text/html"), http.Header{"Content-Type": {"text/plain"}}, 0, nil},
	}
	for _, tt := range tests {
		r, err := NewRequest(tt.env, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r.Header, tt.want) || r.ContentLength != tt.length || !reflect.DeepEqual(r.TransferEncoding, tt.te) {
			t.Errorf("NewRequest(%v): Header %v ContentLength %d TransferEncoding %v; want %v %d %v",
				tt.env, r.Header, r.ContentLength, r.TransferEncoding, tt.want, tt.length, tt.te)
		}
	}
}

func TestNewRequestErrors(t *testing.T) {
	tests := []struct {
		env  Environ
		want string
	}{
		{Environ{}, "environ: missing REQUEST_METHOD"},
		{base("REQUEST_METHOD", ""), "environ: missing REQUEST_METHOD"},
		{base("CONTENT_LENGTH", "abc"), `environ: invalid CONTENT_LENGTH "abc"`},
		{base("CONTENT_LENGTH", "+5"), `environ: invalid CONTENT_LENGTH "+5"`},
		{base("CONTENT_LENGTH", " 5"), `environ: invalid CONTENT_LENGTH " 5"`},
		{base("CONTENT_LENGTH", "5 "), `environ: invalid CONTENT_LENGTH "5 "`},
		{base("CONTENT_LENGTH", "-1"), `environ: invalid CONTENT_LENGTH "-1"`},
		{base("CONTENT_LENGTH", "0x10"), `environ: invalid CONTENT_LENGTH "0x10"`},
		{base("CONTENT_LENGTH", "99999999999999999999"), `environ: invalid CONTENT_LENGTH "99999999999999999999"`},
		{base("SERVER_PROTOCOL", "HTTP/x"), `environ: invalid SERVER_PROTOCOL "HTTP/x"`},
		{base("SERVER_PROTOCOL", "SPDY/3"), `environ: invalid SERVER_PROTOCOL "SPDY/3"`},
	}
	for _, tt := range tests {
		r, err := NewRequest(tt.env, strings.NewReader("x"))
		var re *RequestError
		if r != nil || err == nil || err.Error() != tt.want || !errors.As(err, &re) {
			t.Errorf("NewRequest(%v) = %v, %v; want error %q", tt.env, r, err, tt.want)
		}
	}
}

func TestNewRequestProto(t *testing.T) {
	tests := []struct {
		proto        string
		want         string
		major, minor int
	}{
		{"", "HTTP/1.0", 1, 0},
		{"INCLUDED", "HTTP/1.0", 1, 0},
		{"included", "HTTP/1.0", 1, 0},
		{"HTTP/1.1", "HTTP/1.1", 1, 1},
		{"HTTP/2.0", "HTTP/2.0", 2, 0},
		{"HTTP/0.9", "HTTP/0.9", 0, 9},
		{"http/0.9", "HTTP/0.9", 0, 9},
		{"Http/1.1", "HTTP/1.1", 1, 1},
	}
	for _, tt := range tests {
		env := base()
		if tt.proto != "" {
			env["SERVER_PROTOCOL"] = tt.proto
		}
		r, err := NewRequest(env, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Proto != tt.want || r.ProtoMajor != tt.major || r.ProtoMinor != tt.minor {
			t.Errorf("SERVER_PROTOCOL %q: %q %d.%d", tt.proto, r.Proto, r.ProtoMajor, r.ProtoMinor)
		}
	}
}

func TestNewRequestTLSAndRemote(t *testing.T) {
	tests := []struct {
		env    Environ
		tls    bool
		remote string
	}{
		{base("HTTPS", "on", "REMOTE_ADDR", "1.2.3.4", "REMOTE_PORT", "5"), true, "1.2.3.4:5"},
		{base("HTTPS", "YES", "REMOTE_ADDR", "::1", "REMOTE_PORT", "5"), true, "[::1]:5"},
		{base("HTTPS", "1", "REMOTE_ADDR", "::1"), true, "::1"},
		{base("HTTPS", "off", "REMOTE_ADDR", "1.2.3.4", "REMOTE_PORT", ""), false, "1.2.3.4"},
		{base(), false, ""},
	}
	for _, tt := range tests {
		r, err := NewRequest(tt.env, nil)
		if err != nil {
			t.Fatal(err)
		}
		if (r.TLS != nil) != tt.tls || r.RemoteAddr != tt.remote {
			t.Errorf("NewRequest(%v): TLS %v RemoteAddr %q; want %v %q", tt.env, r.TLS != nil, r.RemoteAddr, tt.tls, tt.remote)
		}
		if r.Close || r.Context() == nil {
			t.Errorf("NewRequest(%v): Close %v", tt.env, r.Close)
		}
	}
}

func TestNewRequestBody(t *testing.T) {
	tests := []struct {
		cl      string
		body    io.Reader
		length  int64
		want    string
		wantErr error
		noBody  bool
	}{
		{"", nil, 0, "", nil, true},
		{"", strings.NewReader("all of it"), -1, "all of it", nil, false},
		{"0", strings.NewReader("ignored"), 0, "", nil, true},
		{"3", strings.NewReader("abcdef"), 3, "abc", nil, false},
		{"3", iotest.OneByteReader(strings.NewReader("abcdef")), 3, "abc", nil, false},
		{"5", strings.NewReader("ab"), 5, "ab", io.ErrUnexpectedEOF, false},
		{"5", nil, 5, "", io.ErrUnexpectedEOF, false},
		{"3", iotest.DataErrReader(strings.NewReader("abc")), 3, "abc", nil, false},
	}
	for _, tt := range tests {
		env := base("REQUEST_METHOD", "POST")
		if tt.cl != "" {
			env["CONTENT_LENGTH"] = tt.cl
		}
		r, err := NewRequest(env, tt.body)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r.Body)
		if r.ContentLength != tt.length || string(got) != tt.want || !errors.Is(err, tt.wantErr) || (r.Body == http.NoBody) != tt.noBody {
			t.Errorf("CONTENT_LENGTH %q: ContentLength %d body %q err %v NoBody %v; want %d %q %v %v",
				tt.cl, r.ContentLength, got, err, r.Body == http.NoBody, tt.length, tt.want, tt.wantErr, tt.noBody)
		}
		if err := r.Body.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}

func TestNewRequestBodyClose(t *testing.T) {
	c := &closer{Reader: strings.NewReader("abc")}
	r, err := NewRequest(base("CONTENT_LENGTH", "3"), c)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Body.Close(); err != nil || !c.closed {
		t.Errorf("Close: %v, closed %v", err, c.closed)
	}
}

type closer struct {
	io.Reader
	closed bool
}

func (c *closer) Close() error { c.closed = true; return nil }

func TestFromRequest(t *testing.T) {
	r := httptest.NewRequest("POST", "http://h.example:8080/a%2Fb/c?x=1", strings.NewReader("hello"))
	r.RemoteAddr = "[::1]:4321"
	r.Header.Set("Content-Type", "text/plain")
	r.Header.Set("Content-Length", "5")
	r.Header.Add("X-Multi", "a")
	r.Header.Add("X-Multi", "b")
	r.TLS = &tls.ConnectionState{}
	got := FromRequest(r)
	want := Environ{
		"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": "POST",
		"SCRIPT_NAME": "", "PATH_INFO": "/a/b/c", "QUERY_STRING": "x=1",
		"REQUEST_URI": "http://h.example:8080/a%2Fb/c?x=1", "HTTPS": "on",
		"SERVER_NAME": "h.example", "SERVER_PORT": "8080", "HTTP_HOST": "h.example:8080",
		"REMOTE_ADDR": "::1", "REMOTE_PORT": "4321", "CONTENT_TYPE": "text/plain",
		"CONTENT_LENGTH": "5", "HTTP_X_MULTI": "a, b",
	}
	if !maps.Equal(got, want) {
		t.Errorf("FromRequest = %v\nwant %v", got, want)
	}
}

func TestFromRequestServer(t *testing.T) {
	tests := []struct {
		host, local string
		tls         bool
		name, port  string
	}{
		{"h", "", false, "h", "80"},
		{"h", "", true, "h", "443"},
		{"[::1]", "", false, "::1", "80"},
		{"[::1]:81", "", false, "::1", "81"},
		{"", "10.0.0.1:9000", false, "10.0.0.1", "9000"},
		{"", "", false, "", "80"},
	}
	for _, tt := range tests {
		r := &http.Request{Method: "GET", Host: tt.host, URL: mustURL(t, "/"), Header: http.Header{}}
		if tt.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if tt.local != "" {
			addr, err := net.ResolveTCPAddr("tcp", tt.local)
			if err != nil {
				t.Fatal(err)
			}
			r = r.WithContext(context.WithValue(context.Background(), http.LocalAddrContextKey, addr))
		}
		env := FromRequest(r)
		if env["SERVER_NAME"] != tt.name || env["SERVER_PORT"] != tt.port {
			t.Errorf("Host %q local %q: SERVER_NAME %q SERVER_PORT %q; want %q %q",
				tt.host, tt.local, env["SERVER_NAME"], env["SERVER_PORT"], tt.name, tt.port)
		}
		if _, ok := env["CONTENT_LENGTH"]; ok {
			t.Errorf("Host %q: CONTENT_LENGTH without a Content-Length field", tt.host)
		}
		if env["REQUEST_URI"] != "/" {
			t.Errorf("REQUEST_URI %q, want /", env["REQUEST_URI"])
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.ParseRequestURI(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestNewRequestWithContext: the request is NewRequest's, with ctx as its
// context; an environ NewRequest refuses is refused alike.
func TestNewRequestWithContext(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "v")
	env := base("REQUEST_URI", "/a?b=c", "HTTP_X_ONE", "1", "CONTENT_LENGTH", "3", "REMOTE_ADDR", "192.0.2.1", "REMOTE_PORT", "5")
	want, err := NewRequest(env, strings.NewReader("abc"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewRequestWithContext(ctx, env, strings.NewReader("abc"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Context() != ctx {
		t.Error("the request's context is not the one given")
	}
	if got.Method != want.Method || got.URL.String() != want.URL.String() || got.RequestURI != want.RequestURI ||
		!reflect.DeepEqual(got.Header, want.Header) || got.ContentLength != want.ContentLength ||
		got.Host != want.Host || got.RemoteAddr != want.RemoteAddr || got.Proto != want.Proto {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if b, _ := io.ReadAll(got.Body); string(b) != "abc" {
		t.Errorf("body %q", b)
	}
	if _, err := NewRequestWithContext(ctx, Environ{}, nil); err == nil {
		t.Error("an environ without REQUEST_METHOD gave a request")
	}
}
