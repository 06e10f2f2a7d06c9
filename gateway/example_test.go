package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/cgiref/cgiref/environ"
	"github.com/cgiref/cgiref/gateway"
)

// A front end turns its protocol into an environ and three streams, then
// runs the app; the answer is a CGI response.
func ExampleNewBaseCGI() {
	env := environ.Environ{
		"REQUEST_METHOD": "POST", "SCRIPT_NAME": "/app", "PATH_INFO": "/greet",
		"SERVER_NAME": "example.org", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
		"CONTENT_LENGTH": "5",
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "Hello, %s at %s", name, r.URL.Path)
	})
	var out strings.Builder
	h := gateway.NewBaseCGI(strings.NewReader("world"), &out, os.Stderr, env)
	if err := h.Run(app); err != nil {
		fmt.Println(err)
	}
	fmt.Printf("%q\n", out.String())
	// Output: "Status: 200 OK\r\nContent-Length: 26\r\nContent-Type: text/plain\r\n\r\nHello, world at /app/greet"
}

// Apps reach the CGI variables and the error stream through the request.
func ExampleEnviron() {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(gateway.Errors(r), "logged to the web server's error log")
		fmt.Println(gateway.Environ(r)["REMOTE_USER"], gateway.RequestFlags(r).Scheme)
	})
	env := environ.Environ{"REQUEST_METHOD": "GET", "REMOTE_USER": "alice", "HTTPS": "on"}
	gateway.NewBaseCGI(nil, io.Discard, io.Discard, env).Run(app)
	// Output: alice https
}
