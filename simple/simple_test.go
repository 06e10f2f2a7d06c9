package simple

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cgiref/cgiref/environ"
	"github.com/cgiref/cgiref/gateway"
)

func TestDemoAppUnderGateway(t *testing.T) {
	env := environ.Environ{"REQUEST_METHOD": "GET", "HTTP_Z": "\xe9", "HTTP_M": "it's", "HTTP_N": `q"`, "AUTH_TYPE": "b"}
	var out bytes.Buffer
	if err := gateway.NewBaseCGI(nil, &out, io.Discard, env).Run(http.HandlerFunc(DemoApp)); err != nil {
		t.Fatal(err)
	}
	body := "Hello world!\n\nAUTH_TYPE = \"b\"\nHTTP_M = \"it's\"\nHTTP_N = \"q\\\"\"\nHTTP_Z = \"\\xe9\"\nREQUEST_METHOD = \"GET\"\n"
	want := "Status: 200 OK\r\nContent-Length: 100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body
	if out.String() != want {
		t.Errorf("got %q\nwant %q", out.String(), want)
	}
}

// TestDemoAppHides: credentials are redacted, and variables that are not
// the request's (the process environment under CGI, SetEnv secrets,
// Apache's REDIRECT_ copies) are not listed.
func TestDemoAppHides(t *testing.T) {
	tests := []struct {
		name, value string
		want        string // the line, "" for none
	}{
		{"HTTP_AUTHORIZATION", "Basic dXNlcjpzZWNyZXQ=", `HTTP_AUTHORIZATION = "[redacted]"`},
		{"HTTP_PROXY_AUTHORIZATION", "Bearer s3cret", `HTTP_PROXY_AUTHORIZATION = "[redacted]"`},
		{"HTTP_COOKIE", "session=s3cret", `HTTP_COOKIE = "[redacted]"`},
		{"HTTP_X_FORWARDED_FOR", "192.0.2.1", `HTTP_X_FORWARDED_FOR = "192.0.2.1"`},
		{"REMOTE_USER", "alice", `REMOTE_USER = "alice"`},
		{"REQUEST_URI", "/a?b", `REQUEST_URI = "/a?b"`},
		{"DOCUMENT_ROOT", "/srv/www", `DOCUMENT_ROOT = "/srv/www"`},
		{"SCRIPT_FILENAME", "/srv/cgi-bin/app", `SCRIPT_FILENAME = "/srv/cgi-bin/app"`},
		{"HTTPS", "on", `HTTPS = "on"`},
		{"SSL_PROTOCOL", "TLSv1.3", `SSL_PROTOCOL = "TLSv1.3"`},
		{"REDIRECT_STATUS", "200", `REDIRECT_STATUS = "200"`},
		{"PATH", "/usr/bin:/bin", ""},
		{"HOME", "/root", ""},
		{"DATABASE_PASSWORD", "s3cret", ""},
		{"API_KEY", "s3cret", ""},
		{"REDIRECT_HTTP_AUTHORIZATION", "Basic s3cret", ""},
		{"REDIRECT_DATABASE_PASSWORD", "s3cret", ""},
		{"SSL_SESSION_ID", "0123abcd", ""},
		{"HTTP_", "s3cret", ""},
		{"http_cookie", "s3cret", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := environ.Environ{"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1", tt.name: tt.value}
			var out bytes.Buffer
			if err := gateway.NewBaseCGI(nil, &out, io.Discard, env).Run(http.HandlerFunc(DemoApp)); err != nil {
				t.Fatal(err)
			}
			got := out.String()
			if !strings.Contains(got, "\nREQUEST_METHOD = \"GET\"\n") {
				t.Fatalf("not a listing: %q", got)
			}
			if strings.Contains(got, "s3cret") || strings.Contains(got, "dXNlcjpzZWNyZXQ=") {
				t.Errorf("a secret is shown: %q", got)
			}
			if tt.want == "" {
				if strings.Contains(got, tt.name) {
					t.Errorf("%s is listed: %q", tt.name, got)
				}
			} else if !strings.Contains(got, "\n"+tt.want+"\n") {
				t.Errorf("no line %s in %q", tt.want, got)
			}
		})
	}
}

// TestDemoAppOutsideGatewayRedacts: credentials of a request served by
// net/http directly are hidden too.
func TestDemoAppOutsideGatewayRedacts(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth("user", "s3cret")
	r.Header.Set("Cookie", "a=s3cret")
	DemoApp(w, r)
	b := w.Body.String()
	if strings.Contains(b, "s3cret") || strings.Contains(b, "dXNlcjpzM2NyZXQ=") ||
		!strings.Contains(b, "\nHTTP_AUTHORIZATION = \"[redacted]\"\n") || !strings.Contains(b, "\nHTTP_COOKIE = \"[redacted]\"\n") {
		t.Errorf("body %q", b)
	}
}

func TestDemoAppOutsideGateway(t *testing.T) {
	w := httptest.NewRecorder()
	DemoApp(w, httptest.NewRequest("GET", "/x?y=1", nil))
	if b := w.Body.String(); !strings.HasPrefix(b, "Hello world!\n\n") || !strings.Contains(b, "PATH_INFO = \"/x\"\n") || !strings.Contains(b, "QUERY_STRING = \"y=1\"\n") {
		t.Errorf("body %q", b)
	}
}

func startServer(t *testing.T, app http.Handler) *Server {
	t.Helper()
	s, err := MakeServer("127.0.0.1", 0, app)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeForeverAndShutdown(t *testing.T) {
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env, flags := gateway.Environ(r), gateway.RequestFlags(r)
		if env["SERVER_SOFTWARE"] != ServerSoftware || env["REQUEST_METHOD"] != "GET" || !flags.Multithread || flags.Scheme != "http" {
			t.Errorf("environ %v, flags %+v", env, flags)
		}
		io.WriteString(w, "ok "+env["PATH_INFO"])
	}))
	done := make(chan error, 1)
	go func() { done <- s.ServeForever() }()
	base := "http://" + s.Addr().String()
	for i := range 3 {
		if code, body := get(t, base+"/p"); code != 200 || body != "ok /p" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	s.SetApp(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "new app") }))
	if _, body := get(t, base+"/"); body != "new app" {
		t.Errorf("SetApp not used: %q", body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("ServeForever = %v", err)
	}
}

func TestHandleRequestServesOne(t *testing.T) {
	s := startServer(t, http.HandlerFunc(DemoApp))
	defer s.Close()
	done := make(chan error, 1)
	go func() { done <- s.HandleRequest() }()
	code, body := get(t, "http://"+s.Addr().String()+"/one")
	if code != 200 || !strings.Contains(body, "PATH_INFO = \"/one\"") {
		t.Errorf("%d %q", code, body)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("HandleRequest = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("HandleRequest did not return after one request")
	}
	if s.App() == nil {
		t.Error("App is nil")
	}
}

func ExampleMakeServer() {
	s, err := MakeServer("127.0.0.1", 0, http.HandlerFunc(DemoApp))
	if err != nil {
		panic(err)
	}
	go s.ServeForever()
	defer s.Close()
	resp, err := http.Get("http://" + s.Addr().String() + "/")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	line, _ := io.ReadAll(io.LimitReader(resp.Body, 12))
	fmt.Println(string(line))
	// Output: Hello world!
}
