//go:build !unix

package cgi

import "os"

// stopSignals are the signals by which a web server stops a CGI program.
var stopSignals = []os.Signal{os.Interrupt}

// pipeSignals: there is no SIGPIPE.
var pipeSignals []os.Signal

// watchClosed cannot poll standard output here: a closed one is noticed
// when a write fails.
func watchClosed(*os.File, func()) (stop func()) { return func() {} }
