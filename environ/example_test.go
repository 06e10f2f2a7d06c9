package environ_test

import (
	"fmt"
	"io"
	"strings"

	"github.com/cgiref/cgiref/environ"
)

func ExampleShiftPathInfo() {
	env := environ.Environ{"SCRIPT_NAME": "/app", "PATH_INFO": "/users/42/"}
	for {
		segment, ok := environ.ShiftPathInfo(env)
		if !ok {
			break
		}
		fmt.Printf("%q SCRIPT_NAME=%q PATH_INFO=%q\n", segment, env["SCRIPT_NAME"], env["PATH_INFO"])
	}
	// Output:
	// "users" SCRIPT_NAME="/app/users" PATH_INFO="/42/"
	// "42" SCRIPT_NAME="/app/users/42" PATH_INFO="/"
	// "" SCRIPT_NAME="/app/users/42/" PATH_INFO=""
}

func ExampleRequestURI() {
	env := environ.Environ{
		"HTTPS": "on", "SERVER_NAME": "example.com", "SERVER_PORT": "8443",
		"SCRIPT_NAME": "/app", "PATH_INFO": "/a b", "QUERY_STRING": "x=1",
	}
	fmt.Println(environ.ApplicationURI(env))
	fmt.Println(environ.RequestURI(env, true))
	fmt.Println(environ.RequestURI(env, false))
	// Output:
	// https://example.com:8443/app
	// https://example.com:8443/app/a%20b?x=1
	// https://example.com:8443/app/a%20b
}

func ExampleNewRequest() {
	env := environ.Environ{
		"REQUEST_METHOD": "POST", "REQUEST_URI": "/app/echo?lang=go", "SERVER_PROTOCOL": "HTTP/1.1",
		"SERVER_NAME": "example.com", "SERVER_PORT": "80", "HTTP_HOST": "example.com",
		"REMOTE_ADDR": "192.0.2.7", "REMOTE_PORT": "50123",
		"CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "5", "HTTP_USER_AGENT": "curl/8.0",
	}
	r, err := environ.NewRequest(env, strings.NewReader("hello, and more"))
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(r.Body)
	fmt.Println(r.Method, r.URL.Path, r.URL.Query().Get("lang"), r.Proto)
	fmt.Println(r.Host, r.RemoteAddr, r.Header.Get("User-Agent"), r.ContentLength)
	fmt.Printf("%q\n", body)

	_, err = environ.NewRequest(environ.Environ{"REQUEST_METHOD": "GET", "CONTENT_LENGTH": "+5"}, nil)
	fmt.Println(err)
	// Output:
	// POST /app/echo go HTTP/1.1
	// example.com 192.0.2.7:50123 curl/8.0 5
	// "hello"
	// environ: invalid CONTENT_LENGTH "+5"
}
