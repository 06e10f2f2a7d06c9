package cgi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cgiref/cgiref/environ"
	"github.com/cgiref/cgiref/gateway"
)

func TestBodyRules(t *testing.T) {
	tests := []struct {
		name    string
		env     environ.Environ
		stdin   string
		want    string
		wantLen int64
	}{
		{"no CONTENT_LENGTH: stdin never read", environ.Environ{"REQUEST_METHOD": "POST"}, "unread", "", 0},
		{"empty CONTENT_LENGTH: no body", environ.Environ{"REQUEST_METHOD": "POST", "CONTENT_LENGTH": ""}, "unread", "", 0},
		{"CONTENT_LENGTH", environ.Environ{"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "3"}, "abcdef", "abc", 3},
		{"chunked without CONTENT_LENGTH", environ.Environ{"REQUEST_METHOD": "POST", "HTTP_TRANSFER_ENCODING": "chunked"}, "whole body", "whole body", -1},
		{"chunked in a list", environ.Environ{"REQUEST_METHOD": "POST", "HTTP_TRANSFER_ENCODING": "gzip, Chunked"}, "zz", "zz", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			var gotLen int64
			h := newHandler(tt.env, strings.NewReader(tt.stdin), io.Discard, io.Discard)
			h.Run(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got, gotLen = string(b), r.ContentLength
			}))
			if got != tt.want || gotLen != tt.wantLen {
				t.Errorf("body %q, ContentLength %d; want %q, %d", got, gotLen, tt.want, tt.wantLen)
			}
		})
	}
}

func TestNewHandlerFlags(t *testing.T) {
	t.Setenv("REQUEST_METHOD", "GET")
	t.Setenv("HTTPS", "1")
	t.Setenv("SERVER_PROTOCOL", "HTTP/1.1")
	h := NewHandler()
	if h.Multithread || !h.Multiprocess || !h.RunOnce || h.OriginServer {
		t.Errorf("flags %+v", h)
	}
	if h.Environ["REQUEST_METHOD"] != "GET" || h.Environ["HTTPS"] != "1" {
		t.Errorf("environ not read from the process: %v", h.Environ)
	}
	if _, ok := h.Stdout.(interface{ Flush() error }); !ok {
		t.Error("stdout is not buffered")
	}
}

func TestOutputBufferedAndFlushed(t *testing.T) {
	var out bytes.Buffer
	h := newHandler(environ.Environ{"REQUEST_METHOD": "GET"}, nil, &out, io.Discard)
	if err := h.Run(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, strings.Repeat("y", 10000))
		if out.Len() != 0 {
			t.Errorf("%d bytes reached stdout before the end", out.Len())
		}
	})); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nyyy") || out.Len() != 10000+44 {
		t.Errorf("output %d bytes: %q", out.Len(), out.String()[:50])
	}
}

func TestRequestFromMap(t *testing.T) {
	r, err := RequestFromMap(map[string]string{
		"REQUEST_METHOD": "GET", "SERVER_NAME": "example.org", "SERVER_PORT": "8080",
		"SCRIPT_NAME": "/app", "PATH_INFO": "/a b", "QUERY_STRING": "x=1", "HTTP_X_TEST": "v",
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.URL.Path != "/app/a b" || r.URL.RawQuery != "x=1" || r.Host != "example.org:8080" || r.Header.Get("X-Test") != "v" || r.Body != http.NoBody {
		t.Errorf("request %+v", r)
	}
	if _, err := RequestFromMap(map[string]string{}); err == nil {
		t.Error("no REQUEST_METHOD accepted")
	}
}

// TestMain makes the test binary a CGI program when net/http/cgi's host runs
// it (CGIREF_TEST_CHILD set), so that the standard library's CGI host drives
// the real process: environment, stdin and stdout.
func TestMain(m *testing.M) {
	if os.Getenv("CGIREF_TEST_CHILD") == "1" {
		s := &Server{Handler: http.HandlerFunc(childApp)}
		if g := os.Getenv("CGIREF_TEST_GRACE"); g != "" {
			d, err := time.ParseDuration(g)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			s.Grace = d
		}
		if err := s.Serve(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func childApp(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Query().Get("do") {
	case "echo":
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		io.Copy(w, r.Body)
	case "panic":
		panic("child panic")
	case "wait", "ignore":
		// Begin the answer, then wait for the request's end: until its
		// context is done ("wait"), or a minute whatever happens ("ignore").
		io.WriteString(w, "started\n")
		http.NewResponseController(w).Flush()
		if r.URL.Query().Get("do") == "ignore" {
			time.Sleep(time.Minute)
			return
		}
		select {
		case <-r.Context().Done():
			fmt.Fprintf(os.Stderr, "child: context done: %v\n", context.Cause(r.Context()))
			fmt.Fprintf(w, "a write after the stop: %v\n", context.Cause(r.Context()))
		case <-time.After(time.Minute):
			fmt.Fprintln(os.Stderr, "child: context never done")
		}
	default:
		env := gateway.Environ(r)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s %s path=%q pathinfo=%q x=%q once=%v", r.Method, r.URL.RequestURI(), r.URL.Path, env["PATH_INFO"], r.Header.Get("X-Test"), gateway.RequestFlags(r).RunOnce)
	}
}

func TestUnderStdlibHost(t *testing.T) {
	host := &cgi.Handler{Path: os.Args[0], Root: "/prog", Env: []string{"CGIREF_TEST_CHILD=1"}}
	srv := httptest.NewServer(host)
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/prog/caf%C3%A9/x?a=1", nil)
	req.Header.Set("X-Test", "v")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `GET /prog/caf%C3%A9/x?a=1 path="/prog/café/x" pathinfo="/café/x" x="v" once=true`
	if string(b) != want || resp.StatusCode != 200 {
		t.Errorf("got %d %q\nwant %q", resp.StatusCode, b, want)
	}

	body := bytes.Repeat([]byte("0123456789"), 100000)
	resp, err = http.Post(srv.URL+"/prog?do=echo", "application/x-test", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(b, body) || resp.Header.Get("Content-Type") != "application/x-test" {
		t.Errorf("echo: %d bytes, Content-Type %q", len(b), resp.Header.Get("Content-Type"))
	}

	resp, err = http.Get(srv.URL + "/prog?do=panic")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || string(b) != "A server error occurred.  Please contact the administrator." {
		t.Errorf("panic: %d %q", resp.StatusCode, b)
	}
}

func ExampleServe() {
	// In the main function of a program installed in a web server's cgi-bin:
	http.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "Hello from CGI\n")
	})
	if os.Getenv("GATEWAY_INTERFACE") != "" {
		if err := Serve(nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
}
