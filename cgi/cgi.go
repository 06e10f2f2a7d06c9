// Package cgi runs an http.Handler as a CGI program (RFC 3875) under a web
// server such as Apache or IIS: the request comes from the process
// environment and standard input, the answer goes to standard output as a
// CGI response, and the app's log lines to standard error, which the web
// server writes to its error log.
//
// It is a drop-in for the child side of net/http/cgi (Serve, Request,
// RequestFromMap), built on cgiref's gateway core: request bodies sent
// chunked (Apache passes them without CONTENT_LENGTH) reach the app, a panic
// gets a 500 answer instead of a broken one, and an app that answers while
// it reads its body does not deadlock under web servers that write the whole
// body first (Apache mod_cgid).
package cgi

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/cgiref/cgiref/environ"
	"github.com/cgiref/cgiref/gateway"
	"github.com/cgiref/cgiref/transcode"
)

// stdoutBuffer is the size of the buffer in front of standard output.
const stdoutBuffer = 32 << 10

// Serve runs handler for the CGI request of this process and writes its
// answer to standard output. A nil handler means http.DefaultServeMux. It
// returns an error when the answer could not be written completely.
func Serve(handler http.Handler) error {
	return NewHandler().Run(handler)
}

// NewHandler returns a gateway for the CGI request of this process, as
// wsgiref's CGIHandler: the environ read now from the process environment
// (transcode.ReadEnviron), standard input as the body, standard output
// buffered and flushed at the end, standard error as the error stream;
// RunOnce and Multiprocess true, Multithread false.
func NewHandler() *gateway.Handler {
	return newHandler(transcode.ReadEnviron(), os.Stdin, os.Stdout, os.Stderr)
}

// newHandler builds a CGI gateway from an environ and the three streams.
func newHandler(env environ.Environ, stdin io.Reader, stdout, stderr io.Writer) *gateway.Handler {
	h := gateway.NewBaseCGI(Body(env, stdin), bufio.NewWriterSize(stdout, stdoutBuffer), stderr, env)
	h.Multithread, h.Multiprocess, h.RunOnce = false, true, true
	return h
}

// Body returns what a CGI program reads its request body from: stdin when
// CONTENT_LENGTH is set, or when HTTP_TRANSFER_ENCODING says chunked (Apache
// hands a chunked body over that way, decoded, without CONTENT_LENGTH, and
// closes stdin after it); otherwise nil, no body, and stdin is never read.
func Body(env environ.Environ, stdin io.Reader) io.Reader {
	if env["CONTENT_LENGTH"] != "" || isChunked(env["HTTP_TRANSFER_ENCODING"]) {
		return stdin
	}
	return nil
}

func isChunked(te string) bool {
	for coding := range strings.SplitSeq(te, ",") {
		if strings.EqualFold(strings.TrimSpace(coding), "chunked") {
			return true
		}
	}
	return false
}

// Request returns the CGI request of this process, its body read from
// standard input, as net/http/cgi's Request does.
func Request() (*http.Request, error) {
	env := transcode.ReadEnviron()
	return environ.NewRequest(env, Body(env, os.Stdin))
}

// RequestFromMap builds an HTTP request from CGI variables, without a body,
// as net/http/cgi's RequestFromMap does.
func RequestFromMap(params map[string]string) (*http.Request, error) {
	return environ.NewRequest(environ.Environ(params), nil)
}
