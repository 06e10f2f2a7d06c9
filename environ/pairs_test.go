package environ

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// pairsOf turns "NAME=value" lines into Pairs, in order.
func pairsOf(lines ...string) Pairs {
	var p Pairs
	for _, l := range lines {
		name, value, _ := strings.Cut(l, "=")
		p = append(p, Pair{name, value})
	}
	return p
}

func TestPairsLookup(t *testing.T) {
	p := pairsOf(
		"REQUEST_METHOD=GET", "SCRIPT_NAME=/a", "HTTP_ACCEPT=text/html", "HTTP_COOKIE=a=1",
		"SCRIPT_NAME=/b", "HTTP_ACCEPT=*/*", "HTTP_COOKIE=b=2", "HTTP_HOST=one", "HTTP_HOST=two",
		"EMPTY=",
	)
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"REQUEST_METHOD", "GET", true},
		{"SCRIPT_NAME", "/b", true},             // a meta-variable set again: the override wins
		{"HTTP_ACCEPT", "text/html, */*", true}, // a repeated field: joined
		{"HTTP_COOKIE", "a=1; b=2", true},       // cookies joined as nginx 1.23 joins them
		{"HTTP_HOST", "two", true},              // HTTP_HOST is not joined
		{"EMPTY", "", true},                     // set, empty
		{"PATH_INFO", "", false},                // not set
		{"script_name", "", false},              // names are case-sensitive
	}
	env := p.Environ()
	for _, tt := range tests {
		got, ok := p.Lookup(tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
		if envGot, envOK := env[tt.name]; envGot != got || envOK != ok {
			t.Errorf("Environ()[%q] = %q, %v; Lookup gives %q, %v", tt.name, envGot, envOK, got, ok)
		}
		if g := p.Get(tt.name); g != tt.want {
			t.Errorf("Get(%q) = %q, want %q", tt.name, g, tt.want)
		}
	}
	if len(env) != 6 {
		t.Errorf("Environ() has %d variables, want 6: %v", len(env), env)
	}
}

// sameRequest fails t unless a and b (and their errors) are the same request
// field for field, bodies included.
func sameRequest(t *testing.T, a *http.Request, aErr error, b *http.Request, bErr error) {
	t.Helper()
	if fmt.Sprint(aErr) != fmt.Sprint(bErr) {
		t.Fatalf("errors differ: %v and %v", aErr, bErr)
	}
	if aErr != nil {
		return
	}
	type view struct {
		Method, Proto, Host, RemoteAddr, RequestURI string
		ProtoMajor, ProtoMinor                      int
		URL                                         any
		Header                                      http.Header
		ContentLength                               int64
		TransferEncoding                            []string
		TLS                                         any
		Ctx                                         context.Context
	}
	viewOf := func(r *http.Request) view {
		return view{r.Method, r.Proto, r.Host, r.RemoteAddr, r.RequestURI, r.ProtoMajor, r.ProtoMinor,
			r.URL, r.Header, r.ContentLength, r.TransferEncoding, r.TLS, r.Context()}
	}
	if va, vb := viewOf(a), viewOf(b); !reflect.DeepEqual(va, vb) {
		t.Fatalf("requests differ:\n%+v\n%+v", va, vb)
	}
	ab, aErr := io.ReadAll(a.Body)
	bb, bErr := io.ReadAll(b.Body)
	if string(ab) != string(bb) || fmt.Sprint(aErr) != fmt.Sprint(bErr) {
		t.Fatalf("bodies differ: %q, %v and %q, %v", ab, aErr, bb, bErr)
	}
}

// checkPairs fails t unless NewRequestFromPairs gives the request that
// NewRequestWithContext gives for p.Environ(), and Lookup agrees with it.
func checkPairs(t *testing.T, p Pairs, body string) {
	t.Helper()
	ctx := context.WithValue(context.Background(), contextKeyForTest{}, 1)
	env := p.Environ()
	var a, b io.Reader
	if body != "" {
		a, b = strings.NewReader(body), strings.NewReader(body)
	}
	want, wantErr := NewRequestWithContext(ctx, env, a)
	got, gotErr := NewRequestFromPairs(ctx, p, b)
	sameRequest(t, got, gotErr, want, wantErr)
	names := slices.Collect(maps.Keys(env))
	names = append(names, "NOT_SENT", "HTTP_NOT_SENT")
	for _, name := range names {
		v, ok := p.Lookup(name)
		if ev, eok := env[name]; v != ev || ok != eok {
			t.Fatalf("Lookup(%q) = %q, %v; Environ has %q, %v", name, v, ok, ev, eok)
		}
	}
}

type contextKeyForTest struct{}

func TestNewRequestFromPairs(t *testing.T) {
	nginx := func(extra ...string) Pairs {
		return append(pairsOf(
			"QUERY_STRING=a=1", "REQUEST_METHOD=POST", "CONTENT_TYPE=text/plain", "CONTENT_LENGTH=5",
			"SCRIPT_NAME=/index.php", "REQUEST_URI=/x?a=1", "SERVER_PROTOCOL=HTTP/1.1",
			"REMOTE_ADDR=::1", "REMOTE_PORT=4000", "SERVER_NAME=example.com", "SERVER_PORT=8080",
			"HTTP_HOST=example.com:8080", "HTTP_CONTENT_LENGTH=5", "HTTP_ACCEPT=*/*",
		), pairsOf(extra...)...)
	}
	many := nginx()
	for i := range maxPairFields + 1 {
		many = append(many, Pair{fmt.Sprintf("HTTP_X_%d", i), "v"})
	}
	tests := []struct {
		name string
		p    Pairs
		body string
	}{
		{"nginx POST", nginx(), "hello"},
		{"script name overridden", nginx("SCRIPT_NAME=/app"), "hello"},
		{"request uri overridden", nginx("REQUEST_URI=/y"), "hello"},
		{"repeated field joined", nginx("HTTP_ACCEPT=text/html"), "hello"},
		{"repeated cookie", nginx("HTTP_COOKIE=a=1", "HTTP_COOKIE=b=2"), "hello"},
		{"repeated host", nginx("HTTP_HOST=other"), "hello"},
		{"chunked", pairsOf("REQUEST_METHOD=PUT", "HTTP_TRANSFER_ENCODING=chunked", "SERVER_NAME=h"), "abc"},
		{"no URI", pairsOf("REQUEST_METHOD=GET", "SCRIPT_NAME=/s", "PATH_INFO=/p q", "QUERY_STRING=x"), ""},
		{"https with SSL variables", nginx("HTTPS=on", "SSL_PROTOCOL=TLSv1.3", "SSL_TLS_SNI=a", "SSL_TLS_SNI=b"), "hello"},
		{"content type both ways", nginx("HTTP_CONTENT_TYPE=text/html"), "hello"},
		{"missing method", pairsOf("REQUEST_URI=/"), ""},
		{"bad length", nginx("CONTENT_LENGTH=5x"), "hello"},
		{"short body", nginx(), "he"},
		{"more fields than checked one by one", many, "hello"},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkPairs(t, tt.p, tt.body) })
	}
}

// FuzzNewRequestFromPairs checks that building a request from pairs is the
// same as building it from their Environ, for any pairs: lines of
// "NAME=value", the names drawn from the variables requests are built from.
func FuzzNewRequestFromPairs(f *testing.F) {
	f.Add("REQUEST_METHOD=GET\nREQUEST_URI=/x\nHTTP_HOST=h\nSCRIPT_NAME=/a\nSCRIPT_NAME=/b", "")
	f.Add("REQUEST_METHOD=POST\nCONTENT_LENGTH=3\nHTTP_COOKIE=a\nHTTP_COOKIE=b\nHTTPS=on\nSSL_CIPHER=x", "abcd")
	f.Add("REQUEST_METHOD=CONNECT\nREQUEST_URI=h:1\nHTTP_TRANSFER_ENCODING=chunked\nSERVER_NAME=::1", "z")
	f.Fuzz(func(t *testing.T, lines, body string) {
		var p Pairs
		for _, l := range strings.Split(lines, "\n") {
			name, value, _ := strings.Cut(l, "=")
			p = append(p, Pair{name, value})
		}
		checkPairs(t, p, body)
	})
}

// BenchmarkNewRequestFromPairs compares building the hello-world benchmark's
// request from pairs with making the environ map first and building it from
// that, as a front end would either way.
func BenchmarkNewRequestFromPairs(b *testing.B) {
	env := wrkEnviron()
	var p Pairs
	for _, k := range slices.Sorted(maps.Keys(env)) {
		p = append(p, Pair{k, env[k]})
	}
	ctx := context.Background()
	b.Run("pairs", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := NewRequestFromPairs(ctx, p, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("environ", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := NewRequestWithContext(ctx, p.Environ(), nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestJoined(t *testing.T) {
	for name, want := range map[string]bool{
		"HTTP_ACCEPT": true, "HTTP_COOKIE": true, "HTTP_X_FORWARDED_FOR": true,
		"HTTP_HOST": false, "SCRIPT_NAME": false, "CONTENT_LENGTH": false, "HTTP": false, "http_accept": false,
	} {
		if got := Joined(name); got != want {
			t.Errorf("Joined(%q) = %v, want %v", name, got, want)
		}
	}
}
