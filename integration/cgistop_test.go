//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestCGIStop hangs up on CGI programs under Apache's mod_cgi (prefork) and
// mod_cgid (event) and lighttpd's mod_cgi about a second into a streamed
// answer, waits for the program to end, and reads what it logged, as
// measured (Apache 2.4.71, lighttpd 1.4):
//
//   - slow: the check app's /slow (`cgiref cgi`, a line every 200 ms for
//     10 s). Every server stops it at once: its request context is cancelled,
//     the cause being its standard output closed or SIGTERM, whichever
//     cgi.Serve sees first (both servers close the pipes and send SIGTERM
//     together), and Serve returns the error, which cgiref logs before it
//     exits.
//   - error-log: the same through the server's error log (the program's
//     standard error): lighttpd and mod_cgid log the app's last lines;
//     mod_cgi closes the program's standard error with its standard output,
//     so that nothing the app logs after the hang-up reaches the log.
//   - linger: a handler (integration/cgiprobe) that takes 4 s to clean up
//     after the cancellation, with cgi.Serve's default grace of 5 s:
//     lighttpd lets it finish and Serve return; Apache (mod_cgi and
//     mod_cgid) kills it with SIGKILL 3 s after the SIGTERM.
//   - linger-grace: the same with a grace of 2 s: under every server Serve
//     returns when the grace has passed and the program exits by itself.
//   - controller: what http.ResponseController does under CGI.
func TestCGIStop(t *testing.T) {
	peers := []struct {
		name  string
		start func(*testing.T) *server
		// killsAfterTERM: the server kills a program that has not exited 3 s
		// after SIGTERM (Apache's APR_KILL_AFTER_TIMEOUT).
		killsAfterTERM bool
		// keepsStderr: the program's standard error still reaches the error
		// log after the hang-up.
		keepsStderr bool
		// bodilessLength: the server passes CONTENT_LENGTH 0 for a request
		// without a body (the program reads its standard input).
		bodilessLength bool
	}{
		{"apache-mod_cgi", func(t *testing.T) *server { return startApache(t, "prefork", "cgi") }, true, false, false},
		{"apache-mod_cgid", func(t *testing.T) *server { return startApache(t, "event", "cgid") }, true, true, false},
		{"lighttpd-mod_cgi", startLighttpd, false, true, true},
	}
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			srv := p.start(t)
			probe := probeScript(t, srv.conf)
			t.Run("slow", func(t *testing.T) {
				script, logFile := stopScript(t, srv.conf)
				log := hangUp(t, srv, script+"/slow?", fileLog(logFile), slowEnd)
				wantSlowCancelled(t, log)
			})
			t.Run("error-log", func(t *testing.T) {
				log := hangUp(t, srv, "/cgi/check/slow?", serverLog(srv), slowEnd)
				if !p.keepsStderr {
					if slowEnd.MatchString(log) {
						t.Errorf("the app's last line reached the error log; measured: it never does under this server:\n%s", log)
					}
					return
				}
				wantSlowCancelled(t, log)
			})
			t.Run("linger", func(t *testing.T) {
				got := hangUpLinger(t, srv, probe, 4*time.Second, 0)
				if p.killsAfterTERM {
					// Killed during the cleanup, after it began.
					if got.served || got.cleanedUp || got.cleanups == 0 {
						t.Errorf("want the program killed during its cleanup; got %+v", got)
					}
					return
				}
				if !got.served || !got.cleanedUp {
					t.Errorf("want the cleanup done and Serve returned; got %+v", got)
				}
			})
			t.Run("linger-grace", func(t *testing.T) {
				got := hangUpLinger(t, srv, probe, 4*time.Second, 2*time.Second)
				if !got.served || got.cleanedUp || !strings.Contains(got.log, "did not return within its grace period of 2s") {
					t.Errorf("want Serve returned at the end of the grace period, before the cleanup ended; got %+v", got)
				}
			})
			t.Run("controller", func(t *testing.T) { checkCGIController(t, srv, probe, p.bodilessLength) })
		})
	}
}

// slowEnd matches what the check app's /slow logs when it ends.
var slowEnd = regexp.MustCompile(`(?m)slow: (?:cancelled after \d+ lines: (.*)|done)$`)

// stopCause matches the causes with which cgi.Serve cancels a request when
// the web server stops the program, as these servers do.
var stopCause = regexp.MustCompile(`^cgi: stopped by the web server: (?:standard output closed|signal terminated)$`)

// wantSlowCancelled checks that /slow's request was cancelled by the web
// server and that cgiref logged Serve's error before it exited.
func wantSlowCancelled(t *testing.T, log string) {
	t.Helper()
	m := slowEnd.FindStringSubmatch(log)
	switch {
	case m == nil:
		t.Errorf("the app logged no end (killed?):\n%s", log)
	case m[1] == "":
		t.Errorf("the app ran to its end after the client hung up:\n%s", log)
	case !stopCause.MatchString(m[1]):
		t.Errorf("cancelled with the cause %q, want a closed standard output or SIGTERM:\n%s", m[1], log)
	case !strings.Contains(log, `msg=cgi err="`+m[1]+`"`):
		t.Errorf("cgiref did not log Serve's error (killed before it returned?):\n%s", log)
	}
}

// lingerResult is how cgiprobe's /linger ended after its client hung up.
type lingerResult struct {
	cause     string // context.Cause, "" when never cancelled
	cleanups  int    // cleanup steps logged
	cleanedUp bool   // the handler logged the end of its cleanup
	served    bool   // cgi.Serve returned and main logged it: no kill
	log       string
}

var (
	lingerCause   = regexp.MustCompile(`(?m)linger: cancelled after \d+ lines: (.*)$`)
	lingerCleanup = regexp.MustCompile(`(?m)linger: cleanup \d+$`)
	lingerEnd     = regexp.MustCompile(`(?m)^cgiprobe: (?:serve: .*|served)$`)
)

// hangUpLinger requests cgiprobe's /linger with cleanup and grace (0: the
// default), hangs up after a second and reports how far the handler's
// cleanup got.
func hangUpLinger(t *testing.T, srv *server, probe probeCGI, cleanup, grace time.Duration) lingerResult {
	t.Helper()
	target := fmt.Sprintf("%s/linger?cleanup=%v&", probe.script, cleanup)
	if grace != 0 {
		target += fmt.Sprintf("grace=%v&", grace)
	}
	res := lingerResult{log: hangUp(t, srv, target, fileLog(probe.log), lingerEnd)}
	if m := lingerCause.FindStringSubmatch(res.log); m != nil {
		res.cause = m[1]
	}
	if !stopCause.MatchString(res.cause) {
		t.Errorf("cancelled with the cause %q, want a closed standard output or SIGTERM", res.cause)
	}
	res.cleanups = len(lingerCleanup.FindAllString(res.log, -1))
	res.cleanedUp = strings.Contains(res.log, "linger: cleaned up")
	res.served = lingerEnd.MatchString(res.log)
	return res
}

// checkCGIController checks what http.ResponseController's methods return
// under CGI, without a body and with one: SetReadDeadline finds no body to
// bound (http.ErrNotSupported), or a standard input that cannot have
// deadlines (a blocking pipe or socket: os.ErrNoDeadline); nothing else is
// supported; Flush works. bodilessLength: the server passes CONTENT_LENGTH
// 0 without a body, so the program has a standard input to read then too.
func checkCGIController(t *testing.T, srv *server, probe probeCGI, bodilessLength bool) {
	const (
		noBody  = "SetReadDeadline: feature not supported (not supported)\n"
		noPoll  = "SetReadDeadline: file type does not support deadline\n"
		theRest = "SetWriteDeadline: feature not supported (not supported)\n" +
			"EnableFullDuplex: feature not supported (not supported)\n" +
			"Hijack: feature not supported (not supported)\n"
	)
	getRead := noBody
	if bodilessLength {
		getRead = noPoll
	}
	for _, c := range []struct {
		method, body, want string
	}{
		{"GET", "", getRead + theRest + "body: 0 bytes, error <nil>\nFlush: <nil>\n"},
		{"POST", "hello", noPoll + theRest + "body: 5 bytes, error <nil>\nFlush: <nil>\n"},
	} {
		resp, b := send(t, c.method, srv.base+probe.script+"/controller", []byte(c.body), nil)
		if resp.StatusCode != http.StatusOK || string(b) != c.want {
			t.Errorf("%s: status %d, answer:\n%s\nwant 200 and:\n%s", c.method, resp.StatusCode, b, c.want)
		}
	}
}

// hangUp sends GET target (which ends in "?" or "&") plus a unique
// parameter, reads the answer's first five lines (about a second), hangs
// up, waits for the CGI process to end and returns what log gives then
// (waiting a moment for a line that end matches).
func hangUp(t *testing.T, srv *server, target string, log func() func() string, end *regexp.Regexp) string {
	t.Helper()
	token := randomToken(t)
	since := log()
	addr := strings.TrimPrefix(srv.base, "http://")
	conn, err := net.DialTimeout("tcp", addr, requestLimit)
	mustDo(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "GET %sstop=%s HTTP/1.1\r\nHost: %s\r\n\r\n", target, token, addr)

	// Read the answer's header and its first five lines (a second).
	mustDo(t, conn.SetReadDeadline(time.Now().Add(requestLimit)))
	br := bufio.NewReader(conn)
	lines := 0
	for lines < 5 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("GET %s: reading the answer after %d lines: %v", target, lines, err)
		}
		if strings.HasPrefix(line, "line ") {
			lines++
		}
	}
	pid := findCGIProcess(t, "stop="+token)
	if pid == 0 {
		t.Fatalf("GET %s: no CGI process for the request runs when the client hangs up", target)
	}
	conn.Close()
	hungUp := time.Now()

	// The handlers run 10 s at most; cgi.Serve gives a cancelled one 5 s.
	if !waitExit(pid, 20*time.Second) {
		t.Fatalf("GET %s: the CGI process %d still runs 20 s after the client hung up", target, pid)
	}
	t.Logf("GET %s: the process ended %v after the hang-up", target, time.Since(hungUp).Round(10*time.Millisecond))
	// The server may write the program's last lines a moment after it ended.
	deadline := time.Now().Add(time.Second)
	for {
		s := since()
		if end.MatchString(s) || time.Now().After(deadline) {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fileLog returns a log source for hangUp: what the file gained since the
// call of the returned function.
func fileLog(name string) func() func() string {
	return func() func() string {
		var before int64
		if fi, err := os.Stat(name); err == nil {
			before = fi.Size()
		}
		return func() string {
			b, _ := os.ReadFile(name)
			return string(b[min(before, int64(len(b))):])
		}
	}
}

// serverLog returns a log source for hangUp: what the server's logs gained.
func serverLog(srv *server) func() func() string {
	return func() func() string {
		sizes := srv.logSizes()
		return func() string { return srv.logsSince(sizes) }
	}
}

// probeCGI is the cgiprobe program installed as a CGI script.
type probeCGI struct {
	script string // its URL path
	log    string // its standard error
}

// probeScript builds ./integration/cgiprobe into c.Dir/bin and installs it
// as DocRoot/cgi/probe, its standard error appended to a file of its own.
func probeScript(t *testing.T, c *confData) probeCGI {
	t.Helper()
	bin := filepath.Join(c.Dir, "bin", "cgiprobe")
	cmd := exec.Command("go", "build", "-tags", "integration", "-o", bin, "./cgiprobe")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building cgiprobe: %v\n%s", err, out)
	}
	mustDo(t, os.Chmod(bin, 0o755))
	p := probeCGI{script: "/cgi/probe", log: filepath.Join(c.Dir, "probe.log")}
	mustWrite(t, p.log, "", 0o666)
	mustWrite(t, filepath.Join(c.CGIDir, "probe"), fmt.Sprintf("#!/bin/sh\nexec '%s' 2>>'%s'\n", bin, p.log), 0o755)
	return p
}

// stopScript writes the CGI program DocRoot/cgi/stop: `cgiref cgi` with
// the check app, its standard error appended to a file of its own (the
// returned path), so that what it logs after the server stopped reading its
// standard error is not lost. It returns the script's URL path.
func stopScript(t *testing.T, c *confData) (script, logFile string) {
	t.Helper()
	logFile = filepath.Join(c.Dir, "stop.log")
	mustWrite(t, logFile, "", 0o666)
	mustWrite(t, filepath.Join(c.CGIDir, "stop"),
		fmt.Sprintf("#!/bin/sh\nexec '%s' cgi -app check -dir '%s' 2>>'%s'\n", cgiref, c.FilesDir, logFile), 0o755)
	return "/cgi/stop", logFile
}

func randomToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	_, err := rand.Read(b)
	mustDo(t, err)
	return hex.EncodeToString(b)
}

// findCGIProcess returns the process whose environment holds s (in
// QUERY_STRING, REQUEST_URI...), waiting up to a few seconds for it; 0
// when there is none.
func findCGIProcess(t *testing.T, s string) int {
	t.Helper()
	want := []byte(s)
	deadline := time.Now().Add(5 * time.Second)
	for {
		dirs, err := filepath.Glob("/proc/[0-9]*")
		mustDo(t, err)
		for _, d := range dirs {
			env, err := os.ReadFile(filepath.Join(d, "environ"))
			if err != nil || !bytes.Contains(env, want) {
				continue
			}
			var pid int
			if _, err := fmt.Sscan(filepath.Base(d), &pid); err == nil {
				return pid
			}
		}
		if time.Now().After(deadline) {
			return 0
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitExit waits up to limit for process pid to end (gone, or a zombie its
// parent has not reaped yet) and reports whether it did.
func waitExit(pid int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		// The state follows the command name in parentheses.
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X') {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
