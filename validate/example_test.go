package validate_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/cgiref/cgiref/environ"
	"github.com/cgiref/cgiref/gateway"
	"github.com/cgiref/cgiref/validate"
)

// An app that forgets its Content-Type gets the gateway's error answer, and
// the violation goes to the error stream.
func ExampleValidator() {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "Hello")
	})
	env := environ.Environ{
		"REQUEST_METHOD": "GET", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
		"SERVER_PROTOCOL": "HTTP/1.1", "SCRIPT_NAME": "", "PATH_INFO": "/", "QUERY_STRING": "",
	}
	var stdout, stderr bytes.Buffer
	h := gateway.NewBaseCGI(strings.NewReader(""), &stdout, &stderr, env)
	h.TracebackLimit = -1
	h.Run(validate.Validator(app))

	status, _, _ := strings.Cut(stdout.String(), "\r\n")
	fmt.Println(status)
	fmt.Print(stderr.String())
	// Output:
	// Status: 500 Internal Server Error
	// gateway: panic serving GET /: validate: content-type: no Content-Type in a 200 answer
}
