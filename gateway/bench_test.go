package gateway

import (
	"io"
	"net/http"
	stdcgi "net/http/cgi"
	"net/http/httptest"
	"testing"

	"github.com/cgiref/cgiref/environ"
)

// helloEnv is what a web server passes for a hello-world GET.
func helloEnv() environ.Environ {
	return environ.Environ{
		"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "nginx/1.22.1",
		"REQUEST_METHOD": "GET", "REQUEST_URI": "/hello?name=x", "SCRIPT_NAME": "/hello",
		"PATH_INFO": "", "QUERY_STRING": "name=x", "SERVER_PROTOCOL": "HTTP/1.1",
		"SERVER_NAME": "localhost", "SERVER_PORT": "8080", "SERVER_ADDR": "127.0.0.1",
		"REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "53422", "CONTENT_TYPE": "", "CONTENT_LENGTH": "",
		"HTTP_HOST": "localhost:8080", "HTTP_USER_AGENT": "wrk", "HTTP_ACCEPT": "*/*",
		"DOCUMENT_ROOT": "/srv", "SCRIPT_FILENAME": "/srv/hello",
	}
}

func helloApp(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "Hello world!\n")
}

// BenchmarkHello runs a hello-world request from environ to bytes.
func BenchmarkHello(b *testing.B) {
	env := helloEnv()
	app := http.HandlerFunc(helloApp)
	b.ReportAllocs()
	for b.Loop() {
		h := NewBaseCGI(nil, io.Discard, io.Discard, env)
		if err := h.Run(app); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHelloStdlibCGI is the same request through net/http/cgi's
// RequestFromMap plus a recorder, for comparison.
func BenchmarkHelloStdlibCGI(b *testing.B) {
	env := map[string]string(helloEnv())
	b.ReportAllocs()
	for b.Loop() {
		r, err := stdcgi.RequestFromMap(env)
		if err != nil {
			b.Fatal(err)
		}
		w := httptest.NewRecorder()
		helloApp(w, r)
		if err := w.Result().Write(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
