package simple

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cgiref/cgiref/gateway"
	"github.com/cgiref/cgiref/validate"
)

// The cases of CPython's test_wsgiref IntegrationTests that have a Go
// meaning, over a real loopback connection.

func serve(t *testing.T, app http.Handler) string {
	t.Helper()
	s := startServer(t, app)
	go s.ServeForever()
	t.Cleanup(func() { s.Close() })
	return s.Addr().String()
}

// rawRequest sends req on a fresh connection and returns the whole answer.
func rawRequest(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, req)
	b, _ := io.ReadAll(bufio.NewReader(c))
	return string(b)
}

func TestPlainHello(t *testing.T) {
	addr := serve(t, http.HandlerFunc(DemoApp))
	out := rawRequest(t, addr, "GET / HTTP/1.0\r\n\r\n")
	if !strings.HasPrefix(out, "HTTP/1.0 200 OK\r\n") || !strings.Contains(out, "\r\n\r\nHello world!\n\n") {
		t.Errorf("answer %q", out)
	}
}

func TestValidatedHello(t *testing.T) {
	addr := serve(t, validate.Validator(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "Hello, world!")
	})))
	out := rawRequest(t, addr, "GET / HTTP/1.0\r\n\r\n")
	if !strings.HasPrefix(out, "HTTP/1.0 200 OK\r\n") || !strings.HasSuffix(out, "\r\n\r\nHello, world!") {
		t.Errorf("answer %q", out)
	}
}

// TestValidatorCatchesBadApp: an app that sets no Content-Type is a
// violation, which gets a 500 answer under a gateway.
func TestValidatorCatchesBadApp(t *testing.T) {
	var errs strings.Builder
	env := map[string]string{"REQUEST_METHOD": "GET", "SERVER_NAME": "h", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.0", "SCRIPT_NAME": "", "PATH_INFO": "/", "QUERY_STRING": ""}
	var out strings.Builder
	h := gateway.NewSimple(nil, &out, &errs, env)
	h.Run(validate.Validator(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil
		io.WriteString(w, "no type")
	})))
	if !strings.HasPrefix(out.String(), "HTTP/1.0 500 Internal Server Error\r\n") || !strings.Contains(errs.String(), "validate:") {
		t.Errorf("answer %q, errors %q", out.String(), errs.String())
	}
}

// TestNonASCIIURL: a path with bytes outside ASCII (CPython's cp1252 URL
// test) reaches the app as those bytes.
func TestNonASCIIURL(t *testing.T) {
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%q", gateway.Environ(r)["PATH_INFO"])
	}))
	out := rawRequest(t, addr, "GET /%80%E9/caf%C3%A9 HTTP/1.0\r\n\r\n")
	if want := `"/\x80\xe9/café"`; !strings.HasSuffix(out, "\r\n\r\n"+want) {
		t.Errorf("answer %q, want body %s", out, want)
	}
}

// TestRequestBody: the body reaches the app (CPython's test_wsgi_input).
func TestRequestBody(t *testing.T) {
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %v %s", b, err, gateway.Environ(r)["CONTENT_LENGTH"])
	}))
	out := rawRequest(t, addr, "POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello")
	if !strings.HasSuffix(out, "\r\n\r\nhello <nil> 5") {
		t.Errorf("answer %q", out)
	}
}
