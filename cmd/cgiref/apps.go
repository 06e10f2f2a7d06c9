package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cgiref/cgiref/gateway"
	"github.com/cgiref/cgiref/internal/observe"
	"github.com/cgiref/cgiref/simple"
	"github.com/cgiref/cgiref/validate"
)

// appOptions are the flags that choose and configure the application.
type appOptions struct {
	app      string // demo, echo, files or check
	dir      string // the folder files serves, and check under /files/
	validate bool   // wrap the application in validate.Validator

	closers []io.Closer // what the built application holds open
}

// Close releases what the application built by handler holds (the files
// app's folder).
func (o *appOptions) Close() error {
	var errs []error
	for _, c := range o.closers {
		errs = append(errs, c.Close())
	}
	o.closers = nil
	return errors.Join(errs...)
}

// register adds -app, -dir and -validate to fs.
func (o *appOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.app, "app", "demo", "the application: demo, echo, files or check")
	fs.StringVar(&o.dir, "dir", "", "the folder served by -app files, and by -app check under /files/")
	fs.BoolVar(&o.validate, "validate", false, "check the gateway and the application with validate.Validator")
}

// setup registers the app flags on fs, parses args (extra: arguments may
// follow the flags) and builds the logger and the app. done says the command
// ends here, with exit status code: help, bad flags or a bad app.
func (o *appOptions) setup(fs *flag.FlagSet, args []string, extra bool, stderr io.Writer) (log *slog.Logger, h http.Handler, code int, done bool) {
	o.register(fs)
	if code, done := parseSubcommand(fs, args, extra); done {
		return nil, nil, code, true
	}
	log = newLogger(stderr)
	h, err := o.handler()
	if err != nil {
		log.Error(fs.Name(), "err", err)
		return log, nil, 2, true
	}
	return log, h, 0, false
}

// handler returns the application the options describe.
func (o *appOptions) handler() (http.Handler, error) {
	var h http.Handler
	switch o.app {
	case "demo":
		h = http.HandlerFunc(simple.DemoApp)
	case "echo":
		h = http.HandlerFunc(echoApp)
	case "files":
		if o.dir == "" {
			return nil, errors.New("cgiref: -app files needs -dir")
		}
		fa, err := newFilesApp(o.dir)
		if err != nil {
			return nil, err
		}
		o.closers = append(o.closers, fa)
		h = fa
	case "check":
		c := &checkApp{}
		if o.dir != "" {
			fa, err := newFilesApp(o.dir)
			if err != nil {
				return nil, err
			}
			o.closers = append(o.closers, fa)
			c.files = fa
		}
		h = c
	default:
		return nil, fmt.Errorf("cgiref: unknown app %q (demo, echo, files or check)", o.app)
	}
	if o.validate {
		h = validate.Validator(h)
	}
	return h, nil
}

// newLogger returns the command's logger: text records on stderr.
func newLogger(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, nil))
}

// appPath is the path an application routes on: PATH_INFO under a gateway
// (the part of the URL below the application's mount point), or the URL's
// path when PATH_INFO is empty (nginx's stock parameters put the whole path
// in SCRIPT_NAME) or there is no gateway.
func appPath(r *http.Request) string {
	if p := gateway.Environ(r)["PATH_INFO"]; p != "" {
		return p
	}
	return r.URL.Path
}

// logf writes a line to the request's error stream, or to slog.Default
// outside a gateway.
func logf(r *http.Request, format string, args ...any) {
	if gateway.Environ(r) == nil {
		slog.Default().Warn(fmt.Sprintf(format, args...))
		return
	}
	fmt.Fprintf(gateway.Errors(r), "cgiref: "+format+"\n", args...)
}

// echoApp answers the request body with the request's Content-Type
// (application/octet-stream when it has none), streaming it.
func echoApp(w http.ResponseWriter, r *http.Request) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	if r.ContentLength >= 0 && r.Method != http.MethodHead {
		w.Header().Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
	}
	if _, err := io.Copy(w, r.Body); err != nil {
		// A body cut short must not pass for a complete echo.
		logf(r, "echo: %v", err)
		panic(http.ErrAbortHandler)
	}
}

// filesApp serves the files below a folder, and nothing outside it: os.Root
// refuses paths and symbolic links that lead out.
type filesApp struct {
	root *os.Root
}

func newFilesApp(dir string) (*filesApp, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("cgiref: files: %w", err)
	}
	return &filesApp{root: root}, nil
}

// Close closes the folder.
func (a *filesApp) Close() error { return a.root.Close() }

func (a *filesApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.serve(w, r, appPath(r))
}

// serve answers with the file at the slash-separated path p.
func (a *filesApp) serve(w http.ResponseWriter, r *http.Request, p string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := path.Clean("/" + p)[1:]
	if name == "" {
		name = "."
	}
	if !safeName(name) || !filepath.IsLocal(filepath.FromSlash(name)) {
		http.NotFound(w, r)
		return
	}
	f, fi, err := a.open(name)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if fi.IsDir() {
		f.Close()
		if !strings.HasSuffix(p, "/") {
			http.Redirect(w, r, path.Base(r.URL.Path)+"/", http.StatusMovedPermanently)
			return
		}
		name = path.Join(name, "index.html")
		if f, fi, err = a.open(name); err == nil && fi.IsDir() {
			f.Close()
			err = fs.ErrNotExist
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
	}
	defer f.Close()
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	http.ServeContent(w, r, name, fi.ModTime(), f)
}

// safeName reports whether every segment of the slash-separated name is
// one that means the same file on every system. It refuses, on every OS,
// what Windows would read as something else: a backslash (a separator
// there), a colon (a drive letter, or an NTFS stream such as "::$DATA"),
// characters Windows forbids in names (<>"|?* and controls), a trailing dot
// or space (Windows drops them, so "a.txt." aliases "a.txt"), and reserved
// device names (CON, NUL, COM1, ..., with or without an extension).
func safeName(name string) bool {
	if name == "." {
		return true
	}
	for seg := range strings.SplitSeq(name, "/") {
		if seg == "" || strings.ContainsFunc(seg, func(r rune) bool {
			return r < 0x20 || r == 0x7f || strings.ContainsRune(`\:<>"|?*`, r)
		}) {
			return false
		}
		if seg != ".." && (strings.HasSuffix(seg, ".") || strings.HasSuffix(seg, " ")) {
			return false
		}
		if reservedName(seg) {
			return false
		}
	}
	return true
}

// reservedName reports whether seg is a Windows device name, in any letter
// case, alone or followed by an extension ("nul.txt") or by spaces.
func reservedName(seg string) bool {
	base, _, _ := strings.Cut(seg, ".")
	base = strings.ToUpper(strings.TrimRight(base, " "))
	switch base {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$":
		return true
	}
	if len(base) >= 4 && (strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT")) {
		switch base[3:] {
		case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "\u00b9", "\u00b2", "\u00b3":
			return true
		}
	}
	return false
}

// open opens name below the root and returns it with its FileInfo.
func (a *filesApp) open(name string) (*os.File, fs.FileInfo, error) {
	f, err := a.root.Open(filepath.FromSlash(name))
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// fail answers 403 for a file the process may not read, and 404 for
// everything else: missing, or outside the folder.
func (a *filesApp) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, fs.ErrPermission) {
		http.Error(w, "403 forbidden", http.StatusForbidden)
		return
	}
	http.NotFound(w, r)
}

// duplexApp answers while it reads: "first" is flushed before the body is
// read, then the body's length.
func duplexApp(w http.ResponseWriter, r *http.Request) {
	if err := http.NewResponseController(w).EnableFullDuplex(); err != nil {
		logf(r, "duplex: %v", err)
	}
	io.WriteString(w, "first\n")
	w.(http.Flusher).Flush()
	n, err := io.Copy(io.Discard, r.Body)
	fmt.Fprintf(w, "got %d %v\n", n, err)
}

// streamDelay is the pause between the two lines of /stream.
const streamDelay = time.Second

// checkApp is the application for integration tests.
type checkApp struct {
	files *filesApp // nil: no -dir, /files/ is 404
}

func (c *checkApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := appPath(r)
	switch {
	case p == "/echo":
		echoApp(w, r)
	case p == "/panic":
		panic("cgiref check: /panic requested")
	case p == "/stream":
		streamApp(w, r)
	case p == "/duplex":
		duplexApp(w, r)
	case strings.HasPrefix(p, "/cut/"):
		cutApp(w, r, strings.TrimPrefix(p, "/cut/"))
	case p == "/slow":
		slowApp(w, r)
	case p == "/sleep":
		sleepApp(w, r)
	case p == "/log":
		logApp(w, r)
	case strings.HasPrefix(p, "/status/"):
		statusApp(w, strings.TrimPrefix(p, "/status/"))
	case p == "/auth":
		authApp(w, r)
	case p == "/pid":
		// Which process answered: the restart tests count them.
		pid := strconv.Itoa(os.Getpid())
		w.Header().Set("X-Pid", pid)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "pid "+pid+"\n")
	case p == "/observe" || strings.HasPrefix(p, "/observe/"):
		observe.Handler(w, r) // what the app sees of its request, for the differential tests
	case p == "/files" || strings.HasPrefix(p, "/files/"):
		if c.files == nil {
			http.NotFound(w, r)
			return
		}
		c.files.serve(w, r, strings.TrimPrefix(p, "/files"))
	default:
		simple.DemoApp(w, r)
	}
}

// streamApp writes "first\n", flushes, waits streamDelay (or until the
// request is cancelled), then writes "second\n".
func streamApp(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "first\n")
	if err := http.NewResponseController(w).Flush(); err != nil {
		logf(r, "stream: flush: %v", err)
	}
	t := time.NewTimer(streamDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return
	}
	io.WriteString(w, "second\n")
}

// maxSleep bounds /sleep.
const maxSleep = time.Minute

// sleepApp waits ms milliseconds (the query's ms, 0 to maxSleep) or until
// the request is cancelled, then answers "slept N ms": a handler that holds
// its slot, for tests of limits, pings and slow requests.
func sleepApp(w http.ResponseWriter, r *http.Request) {
	ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
	if err != nil || ms < 0 || time.Duration(ms)*time.Millisecond > maxSleep {
		http.Error(w, fmt.Sprintf("bad ms %q: want 0..%d", r.URL.Query().Get("ms"), maxSleep.Milliseconds()), http.StatusBadRequest)
		return
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "slept %d ms\n", ms)
}

// logApp writes the query's msg to the request's error stream
// (gateway.Errors) as one line, then answers "logged".
func logApp(w http.ResponseWriter, r *http.Request) {
	logf(r, "log: %s", r.URL.Query().Get("msg"))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "logged\n")
}

// statusApp answers the status code s (200..999) with a short body, none
// for 204 and 304.
func statusApp(w http.ResponseWriter, s string) {
	code, err := strconv.Atoi(s)
	if err != nil || len(s) != 3 || code < 200 {
		http.Error(w, fmt.Sprintf("bad status %q: want 200..999", s), http.StatusBadRequest)
		return
	}
	if code == http.StatusNoContent || code == http.StatusNotModified {
		w.WriteHeader(code)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprintf(w, "status %d\n", code)
}

// authApp answers as a FastCGI authorizer: 200 with the variable AUTH_USER
// when the request has "X-Auth: ok", else 403.
func authApp(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Auth") != "ok" {
		http.Error(w, "403 forbidden", http.StatusForbidden)
		return
	}
	// Assigned directly: the name keeps its letter case.
	w.Header()["Variable-AUTH_USER"] = []string{"tester"}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "authorized\n")
}

// cutApp answers with an answer cut short after it began, as the truncation
// tests ask: "panic" and "abort" flush a first line, then panic (with
// http.ErrAbortHandler for "abort"); "short" declares a Content-Length of
// 10 and writes 5 bytes.
func cutApp(w http.ResponseWriter, r *http.Request, how string) {
	switch how {
	case "panic", "abort":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "first\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			logf(r, "cut: flush: %v", err)
		}
		if how == "abort" {
			panic(http.ErrAbortHandler)
		}
		panic("cgiref check: /cut/panic requested")
	case "short":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "12345")
	default:
		http.NotFound(w, r)
	}
}

// slowTick is the pause between the lines of /slow, and slowLines their
// number.
const (
	slowTick  = 200 * time.Millisecond
	slowLines = 50
)

// slowApp writes a line and flushes every slowTick, slowLines times,
// until its request is cancelled, and logs on the request's error stream
// how it ended: "slow: cancelled after N lines: CAUSE" or "slow: done".
func slowApp(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rc := http.NewResponseController(w)
	t := time.NewTicker(slowTick)
	defer t.Stop()
	for i := range slowLines {
		fmt.Fprintf(w, "line %d\n", i)
		if err := rc.Flush(); err != nil {
			logf(r, "slow: flush after %d lines: %v", i+1, err)
		}
		select {
		case <-t.C:
		case <-r.Context().Done():
			logf(r, "slow: cancelled after %d lines: %v", i+1, context.Cause(r.Context()))
			return
		}
	}
	logf(r, "slow: done")
}
