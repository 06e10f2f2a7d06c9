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
	env := environ.Environ{"REQUEST_METHOD": "GET", "Z": "\xe9", "M": "it's", "N": `q"`, "A": "b"}
	var out bytes.Buffer
	if err := gateway.NewBaseCGI(nil, &out, io.Discard, env).Run(http.HandlerFunc(DemoApp)); err != nil {
		t.Fatal(err)
	}
	body := "Hello world!\n\nA = \"b\"\nM = \"it's\"\nN = \"q\\\"\"\nREQUEST_METHOD = \"GET\"\nZ = \"\\xe9\"\n"
	want := "Status: 200 OK\r\nContent-Length: 77\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body
	if out.String() != want {
		t.Errorf("got %q\nwant %q", out.String(), want)
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
