// Command cgiref runs a demo application under any of cgiref's gateways: an
// HTTP demo server, a CGI script (plain or with the IIS fix-up), a FastCGI
// responder or an SCGI backend.
//
// Usage:
//
//	cgiref serve [-listen 127.0.0.1:8000] [-app demo|echo|files|check] [-dir DIR] [-validate]
//	cgiref cgi   [-app ...]
//	cgiref iis   [-app ...]
//	cgiref fcgi  [-listen ADDR|unix:PATH] [-app ...]
//	cgiref scgi  -listen ADDR|unix:PATH [-app ...]
//	cgiref call  -addr HOST:PORT|unix:PATH [-proto fcgi|scgi] [-X METHOD] [-H 'Name: value'] [-d BODY|@FILE] /PATH?QUERY
//	cgiref -version
//	cgiref
//
// Without a subcommand, cgiref runs as a FastCGI responder when standard
// input is a listening socket (as a web server that spawns FastCGI
// processes starts it), as a CGI script when GATEWAY_INTERFACE is set, and
// otherwise prints this usage and exits with status 2.
//
// The applications:
//
//   - demo (the default) answers "Hello world!", a blank line, then the
//     request's CGI variables, one per line, sorted, as NAME = "value"
//     (simple.DemoApp: credentials redacted, never the rest of the process
//     environment); it is a demo, not for production;
//   - echo answers the request body with the request's Content-Type;
//   - files serves the files below -dir, with index.html for folders;
//   - check is for integration tests: /echo echoes, /panic panics, /stream
//     writes two lines a second apart with a flush between them,
//     /sleep?ms=N answers after N milliseconds, /log?msg=M writes M to the
//     request's error stream, /status/NNN answers status NNN, /auth answers
//     as a FastCGI authorizer (200 and Variable-AUTH_USER when the request
//     has X-Auth: ok, else 403), /pid answers "pid N" (and X-Pid: N), the
//     id of the process that answered, /files/ serves -dir, anything else is
//     the demo listing.
//
// -validate wraps the application in validate.Validator.
//
// cgiref call sends one request to a FastCGI responder or an SCGI backend and
// prints the answer: "Status: CODE TEXT", the header fields, a blank line and
// the body. It exits with status 0 for a 2xx or 3xx answer, 1 for any other
// status, 2 for bad usage and 3 when no answer came (connection refused or
// cut, timeout, malformed answer), so it serves as a health probe.
//
// cgiref fcgi and cgiref scgi finish the requests in flight and exit on
// SIGTERM or SIGINT. On SIGHUP they start their executable again (a newly
// deployed binary) with their listening sockets, wait until it serves, then
// finish their requests and exit: a restart without a refused connection
// (docs/systemd.md). -pid-file names a file that holds the serving
// process's id.
//
// cgiref -version prints the module version and VCS revision recorded in the
// build.
//
// A CGI script line such as "#!/usr/local/bin/cgiref cgi -app echo" reaches
// cgiref as the single argument "cgi -app echo" followed by the script's
// path; cgiref splits that first argument at spaces, and the cgi and iis
// subcommands ignore the arguments after their flags (the script's path
// and the words of an ISINDEX query).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

const usageText = `usage:
  cgiref serve [-listen 127.0.0.1:8000] [-app demo|echo|files|check] [-dir DIR] [-validate]
                                  HTTP demo server
  cgiref cgi   [-app ...]         run once as a CGI script
  cgiref iis   [-app ...]         the same, with the IIS PATH_INFO fix-up
  cgiref fcgi  [-listen ADDR|unix:PATH] [-app ...]
                                  FastCGI responder (no -listen: the socket on fd 0)
  cgiref scgi  -listen ADDR|unix:PATH [-app ...]
                                  SCGI backend
  cgiref call  -addr HOST:PORT|unix:PATH [-proto fcgi|scgi] [-X METHOD] [-H 'N: v'] [-d BODY|@FILE] /PATH?QUERY
                                  a FastCGI/SCGI client: prints the answer; exit 0 on 2xx/3xx
  cgiref -version                 the module version from the build information
  cgiref                          FastCGI when fd 0 is a listening socket, CGI when
                                  GATEWAY_INTERFACE is set

Run "cgiref SUBCOMMAND -h" for the flags of a subcommand.
`

// subcommand returns the runner of the subcommand name, or nil.
func subcommand(name string) func(args []string, stderr io.Writer) int {
	switch name {
	case "serve":
		return runServe
	case "cgi":
		return runCGI
	case "iis":
		return runIIS
	case "fcgi":
		return runFCGI
	case "scgi":
		return runSCGI
	case "call":
		return runCall
	}
	return nil
}

func main() {
	os.Exit(run(os.Args[1:], os.LookupEnv, stdinIsListener, os.Stderr))
}

// run dispatches args and returns the exit status. lookupEnv and
// isListener are the process's, replaceable in tests.
func run(args []string, lookupEnv func(string) (string, bool), isListener func() bool, stderr io.Writer) int {
	args = splitScriptLine(args)
	if len(args) > 0 {
		if runner := subcommand(args[0]); runner != nil {
			return runner(args[1:], stderr)
		}
		switch args[0] {
		case "-h", "-help", "--help", "help":
			fmt.Fprint(stderr, usageText)
			return 0
		case "-version", "--version":
			printVersion(os.Stdout)
			return 0
		}
	}
	if isListener() {
		return runFCGI(args, stderr)
	}
	if _, ok := lookupEnv("GATEWAY_INTERFACE"); ok {
		// Flags pass through; other words are an ISINDEX query's.
		if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
			args = nil
		}
		return runCGI(args, stderr)
	}
	if len(args) > 0 {
		fmt.Fprintf(stderr, "cgiref: unknown subcommand %q\n", args[0])
	}
	fmt.Fprint(stderr, usageText)
	return 2
}

// splitScriptLine splits a first argument such as "cgi -app echo", which is
// how a "#!" line passes the words after the interpreter's path.
func splitScriptLine(args []string) []string {
	if len(args) == 0 || !strings.Contains(args[0], " ") {
		return args
	}
	words := strings.Fields(args[0])
	if len(words) == 0 {
		return args
	}
	if subcommand(words[0]) == nil {
		return args
	}
	return append(words, args[1:]...)
}

// subcommandFlags returns a flag set that reports to stderr and does not
// exit the process.
func subcommandFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseSubcommand parses args into fs. done is true when the command must
// exit at once with code: 0 after -h, 2 on a bad flag, or on arguments after
// the flags unless extra allows them.
func parseSubcommand(fs *flag.FlagSet, args []string, extra bool) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	if !extra && fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return 2, true
	}
	return 0, false
}
