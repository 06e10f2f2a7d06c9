package main

import (
	"io"
	"net/http"

	"github.com/cgiref/cgiref/cgi"
	"github.com/cgiref/cgiref/gateway"
)

// runCGI answers the CGI request of this process.
func runCGI(args []string, stderr io.Writer) int {
	return runOnce("cgi", cgi.Serve, args, stderr)
}

// runOnce parses the flags of the once-per-process subcommand name, then
// serves one request with serve. Arguments after the flags are ignored: a
// "#!" line adds the script's path, and an ISINDEX query its words.
func runOnce(name string, serve func(http.Handler) error, args []string, stderr io.Writer) int {
	fs := subcommandFlags(name, "cgiref "+name+" [-app demo|echo|files|check] [-dir DIR] [-validate] [SCRIPT [WORD...]]", stderr)
	var o appOptions
	log, h, code, done := o.setup(fs, args, true, stderr)
	if done {
		return code
	}
	defer o.Close()
	if err := serve(h); err != nil {
		if !gateway.IsClientGone(err) {
			log.Error(name, "err", err)
		}
		return 1
	}
	return 0
}
