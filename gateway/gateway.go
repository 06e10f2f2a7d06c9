// Package gateway is cgiref's core: it runs one request of an ordinary
// net/http Handler from a CGI-like environ plus stdin, stdout and stderr, and
// writes the answer either as a CGI gateway (a "Status:" header first) or as
// an origin server (an HTTP status line, Date and Server).
//
// It is the Go counterpart of Python's wsgiref.handlers: Handler plays
// BaseHandler, NewBaseCGI builds a BaseCGIHandler and NewSimple a
// SimpleHandler. Every protocol front end of cgiref (cgi, iis, fcgi, scgi)
// only produces an environ and three streams and calls Run.
//
// An app cannot tell whether it runs under net/http.Server or under a
// gateway, except through Environ, Errors and RequestFlags.
package gateway

import (
	"context"
	"io"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/cgiref/cgiref/environ"
	"github.com/cgiref/cgiref/headers"
	"github.com/cgiref/cgiref/internal/spool"
	"github.com/cgiref/cgiref/internal/stats"
)

// Handler runs one request through an http.Handler. Create it with
// NewBaseCGI or NewSimple (or fill in the fields), then call Run once.
type Handler struct {
	Stdin   io.Reader // the request body; nil means no body
	Stdout  io.Writer // where the answer goes
	Stderr  io.Writer // the request's error stream (Errors); nil discards
	Environ environ.Environ

	// Pairs, used when Environ is nil, is the environ as the web server
	// sent it: Run builds the request from the pairs directly and makes
	// their Environ only when the app asks for it (Environ(r)), which saves
	// a front end that receives pairs (FastCGI, SCGI) the map on every
	// request. The app sees the same request and the same Environ.
	Pairs environ.Pairs
	// Relist, when set with Pairs, lists Pairs again, in a slice of their
	// own, for an app that asks for its Environ: Run then reads Pairs only
	// until it returns, and the front end may reuse their slice for its
	// next request (fcgi does on a kept-alive connection). Its pairs must
	// be those of Pairs.
	Relist environ.Lister

	// Multithread, Multiprocess and RunOnce describe the server to the app
	// (RequestFlags), as wsgi.multithread, wsgi.multiprocess and
	// wsgi.run_once do.
	Multithread, Multiprocess, RunOnce bool

	// OriginServer writes an HTTP status line plus Date and Server instead
	// of a CGI Status header.
	OriginServer bool
	// HTTPVersion is the origin server's response version; "" means "1.0".
	HTTPVersion string
	// ServerSoftware is sent as the Server field in origin mode, and added
	// as SERVER_SOFTWARE to the environ when it has none.
	ServerSoftware string

	ErrorStatus    int             // status of the error answer; 0 means 500
	ErrorHeaders   []headers.Field // fields of the error answer; nil means Content-Type: text/plain
	ErrorBody      []byte          // body of the error answer; nil means wsgiref's default sentence
	TracebackLimit int             // panic stack frames logged to Stderr; 0: all, negative: none

	// Context is the parent of the request's context; nil means
	// context.Background. A front end cancels it when the client goes away,
	// and may carry values of its own for the app.
	Context context.Context
	// ScopedContext says that Context belongs to this request alone and
	// that the front end cancels it as soon as Run returns: Run then gives
	// the app Context itself, with the request's values, instead of
	// deriving a context of its own that it cancels on return (one
	// cancelable context per request instead of two). Without a Context it
	// has no effect.
	ScopedContext bool
	// SpoolMemory is how much of an unread request body is held in memory
	// before the rest is spooled to a temporary file in TempDir ("":
	// os.TempDir()); 0 means 1 MiB. A Stdin that is a BufferedInput is
	// never spooled.
	SpoolMemory int64
	TempDir     string

	// MaxBodyBytes, when positive, limits the request body: a declared
	// CONTENT_LENGTH past it is answered 413 Request Entity Too Large
	// without calling the app, and reads past it fail with an
	// *http.MaxBytesError.
	MaxBodyBytes int64

	// Timeout, when positive, bounds how long the app may run: its
	// context is cancelled then, and Run returns at once, after a 503
	// Service Unavailable answer when the answer had not begun (as
	// net/http.TimeoutHandler answers) or with the answer cut short when it
	// had. The app's later writes fail with http.ErrHandlerTimeout; it runs
	// in a goroutine of its own, which it leaves when it returns.
	Timeout time.Duration

	result Result
	// http09: an origin server answers an HTTP/0.9 request, with the body
	// alone. Run sets it before the app runs, so that nothing reads the
	// front end's Pairs once Run returned (see Relist).
	http09 bool
}

// NewBaseCGI returns a Handler that answers as a CGI gateway (a Status
// header first), for front ends such as FastCGI and SCGI: Multithread true,
// Multiprocess and RunOnce false.
func NewBaseCGI(stdin io.Reader, stdout, stderr io.Writer, env environ.Environ) *Handler {
	return &Handler{Stdin: stdin, Stdout: stdout, Stderr: stderr, Environ: env, Multithread: true}
}

// NewSimple returns a Handler that answers as an HTTP/1.0 origin server (a
// status line, Date and Server): Multithread true, Multiprocess and RunOnce
// false.
func NewSimple(stdin io.Reader, stdout, stderr io.Writer, env environ.Environ) *Handler {
	h := NewBaseCGI(stdin, stdout, stderr, env)
	h.OriginServer = true
	return h
}

// Run serves one request: it builds an *http.Request from the environ and
// Stdin, calls app, and writes the answer to Stdout.
//
// Run returns nil when a complete answer went out, the app's or the error
// page; it returns an error when the answer was cut short or could not be
// written (a client gone, a panic after the answer began, or
// http.ErrAbortHandler).
func (h *Handler) Run(app http.Handler) error {
	if app == nil {
		app = http.DefaultServeMux
	}
	errs := h.Stderr
	if errs == nil {
		errs = io.Discard
	}
	x := &exchange{out: output{w: h.Stdout}}
	x.body.init(h.Stdin, spool.Config{Memory: h.SpoolMemory, TempDir: h.TempDir, Prefix: "cgiref-body-", MaxBytes: h.MaxBodyBytes})
	timedOut := false
	defer func() {
		if timedOut {
			go x.body.Close() // the app may still be reading: do not wait for it
		} else {
			x.body.Close()
		}
	}()

	x.info = requestInfo{errors: errs, flags: Flags{
		Multithread: h.Multithread, Multiprocess: h.Multiprocess, RunOnce: h.RunOnce,
	}}
	h.setVars(&x.info)
	h.http09 = h.OriginServer && strings.EqualFold(h.variable("SERVER_PROTOCOL"), "HTTP/0.9")
	parent := h.Context
	if parent == nil {
		parent = context.Background()
	}
	var ctx context.Context
	var cancel context.CancelFunc
	switch {
	case h.Timeout > 0:
		ctx, cancel = context.WithTimeout(parent, h.Timeout)
	case h.ScopedContext && h.Context != nil:
		ctx = parent // the front end cancels it once Run returns
	default:
		ctx, cancel = context.WithCancel(parent)
	}
	if cancel != nil {
		defer cancel()
	}
	x.ctx = reqContext{Context: ctx, info: &x.info}

	var req *http.Request
	var err error
	if x.info.env != nil {
		req, err = environ.NewRequestWithContext(&x.ctx, x.info.env, x.body.reader())
	} else {
		req, err = environ.NewRequestFromPairs(&x.ctx, x.info.pairs, x.body.reader())
	}
	if err != nil {
		h.result = Result{Status: http.StatusBadRequest}
		return h.badRequest(&x.out, errs, err)
	}
	x.info.flags.Scheme = "http" // environ.GuessScheme's answer: r.TLS is set for HTTPS on
	if req.TLS != nil {
		x.info.flags.Scheme = "https"
	}
	if h.MaxBodyBytes > 0 && req.ContentLength > h.MaxBodyBytes {
		h.result = Result{Status: http.StatusRequestEntityTooLarge}
		return h.tooLarge(&x.out, errs, req)
	}
	x.body.limit(req.ContentLength, h.MaxBodyBytes)

	rw := &x.resp
	rw.init(h, req, &x.out, &x.body, errs)
	defer rw.release()
	defer func() { h.result = rw.result(timedOut) }()
	if h.Timeout > 0 {
		var err error
		timedOut, err = rw.serveWithTimeout(app, ctx)
		return err
	}
	return rw.serve(app)
}

// Result is what a Run did, for a front end's counters and access log.
type Result struct {
	Status    int   // the status of the answer; 0 when none went out
	BodyBytes int64 // body bytes the app wrote
	Panicked  bool  // the app panicked (other than with http.ErrAbortHandler)
	TimedOut  bool  // Timeout ended the app
}

// Result returns what the last Run did.
func (h *Handler) Result() Result { return h.result }

// Stats is a server's counters at one moment, as fcgi.Server.Stats and
// scgi.Server.Stats return them: connections open and accepted, requests in
// flight and in total, requests by outcome (completed, client_gone,
// aborted, panicked, cut, timed_out), refusals by reason, bytes in and out,
// bodies spooled to disk and their bytes, slow requests and pings. Its JSON
// form is what the status handler serves.
type Stats = stats.Snapshot

// exchange holds the state of one Run in a single allocation.
type exchange struct {
	out  output
	body reqBody
	info requestInfo
	ctx  reqContext
	resp response
}

// variable returns one variable of the front end's environ (Environ, else
// Pairs).
func (h *Handler) variable(name string) string {
	if h.Environ != nil {
		return h.Environ[name]
	}
	return h.Pairs.Get(name)
}

// setVars gives ri the environ the app sees: the front end's Environ or
// Pairs, plus SERVER_SOFTWARE for an origin server that has a
// ServerSoftware.
func (h *Handler) setVars(ri *requestInfo) {
	env, pairs := h.Environ, h.Pairs
	if env == nil && pairs == nil {
		env = environ.Environ{}
	}
	if h.OriginServer && h.ServerSoftware != "" {
		if env != nil {
			if _, ok := env["SERVER_SOFTWARE"]; !ok {
				env = maps.Clone(env)
				env["SERVER_SOFTWARE"] = h.ServerSoftware
			}
		} else if _, ok := pairs.Lookup("SERVER_SOFTWARE"); !ok {
			pairs = append(pairs[:len(pairs):len(pairs)], environ.Pair{Name: "SERVER_SOFTWARE", Value: h.ServerSoftware})
			ri.software = h.ServerSoftware
		}
	}
	ri.env, ri.pairs = env, pairs
	if env == nil {
		ri.relist = h.Relist
	}
}
