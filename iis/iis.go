// Package iis runs an http.Handler as a CGI program under Microsoft IIS.
//
// IIS repeats SCRIPT_NAME at the front of PATH_INFO (unless
// allowPathInfoForScriptMappings is set); FixPathInfo removes that copy,
// exactly as wsgiref's IISCGIHandler does. Everything else is package cgi.
// The fix-up is environ.StripScriptPrefix, which the FastCGI front end
// applies for IIS's FastCGI module (it has the same habit).
package iis

import (
	"net/http"

	"github.com/cgiref/cgiref/cgi"
	"github.com/cgiref/cgiref/environ"
	"github.com/cgiref/cgiref/gateway"
)

// Serve runs handler for the CGI request of this process, with the IIS
// PATH_INFO fix-up, and writes its answer to standard output. A nil handler
// means http.DefaultServeMux.
func Serve(handler http.Handler) error {
	return NewHandler().Run(handler)
}

// NewHandler returns cgi.NewHandler's gateway with FixPathInfo applied to
// its environ (IISCGIHandler): RunOnce and Multiprocess true, Multithread
// false.
func NewHandler() *gateway.Handler {
	h := cgi.NewHandler()
	FixPathInfo(h.Environ)
	return h
}

// FixPathInfo removes the copy of SCRIPT_NAME that IIS puts at the front of
// PATH_INFO, when it is there on a whole-segment boundary: PATH_INFO
// "/app/foo" with SCRIPT_NAME "/app" becomes "/foo", and PATH_INFO equal to
// SCRIPT_NAME becomes "". Letter case matters. As in wsgiref, a missing
// PATH_INFO is set to "" when the (empty) prefix matches.
//
// It is environ.StripScriptPrefix, which the FastCGI front end uses too
// (front ends do not import each other).
func FixPathInfo(env environ.Environ) { environ.StripScriptPrefix(env) }
