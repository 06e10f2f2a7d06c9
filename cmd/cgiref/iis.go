package main

import (
	"io"

	"github.com/cgiref/cgiref/iis"
)

// runIIS answers the CGI request of this process, with the IIS PATH_INFO
// fix-up.
func runIIS(args []string, stderr io.Writer) int {
	return runOnce("iis", iis.Serve, args, stderr)
}
