//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readPID waits until the pid file holds a process id other than not.
func readPID(t *testing.T, path string, not int) int {
	t.Helper()
	deadline := time.Now().Add(startLimit)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid != not {
				return pid
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: no new process id after %v (old %d)", path, startLimit, not)
	return 0
}

// waitNotify waits for a notification that starts with prefix and fails on
// a STOPPING=1 meanwhile.
func waitNotify(t *testing.T, ch <-chan string, prefix string) string {
	t.Helper()
	timeout := time.After(startLimit)
	for {
		select {
		case m := <-ch:
			if strings.HasPrefix(m, "STOPPING=1") {
				t.Errorf("notification %q during a hand-over", m)
			}
			if strings.HasPrefix(m, prefix) {
				return m
			}
		case <-timeout:
			t.Fatalf("no notification %q", prefix)
		}
	}
}

// TestHandoverRestart runs `cgiref fcgi -listen unix:PATH` behind nginx
// (docs/conf/nginx-fcgi-unix.conf) and sends SIGHUP three times under
// steady load: each time a new process takes the socket over and the old
// one finishes its requests and exits. No request may fail, and every
// process must have answered.
func TestHandoverRestart(t *testing.T) {
	c := newConf(t, false)
	s := newServer(t, "nginx", c)
	s.logs = append(s.logs, filepath.Join(c.Dir, "error.log"))
	notify, events := notifications(t, c.Dir)
	pidFile := filepath.Join(c.Dir, "fcgi.pid")
	backend := startProc(t, "fcgi", s.addLog("fcgi.log"), []string{"NOTIFY_SOCKET=" + notify},
		cgiref, "fcgi", "-listen", "unix:"+c.FCGISocket, "-pid-file", pidFile, "-app", "check")
	backend.waitReady(t, "unix", c.FCGISocket)
	pid := readPID(t, pidFile, 0)
	waitNotify(t, events, "READY=1")
	render(t, c, "cgiref_fastcgi_params", "cgiref_fastcgi_params")
	render(t, c, "cgiref_scgi_params", "cgiref_scgi_params")
	conf := render(t, c, "nginx.conf.tmpl", "nginx.conf")
	s.start(t, nil, "nginx", "-p", c.Dir, "-c", conf, "-e", filepath.Join(c.Dir, "error.log"), "-g", "daemon off;")

	const (
		total    = 2000
		workers  = 4
		restarts = 3
	)
	ld := startLoad(s.base+"/fcgi-unix/pid", workers, total, 30*time.Second)
	pids := []int{pid}
	for i := range restarts {
		ld.waitSent(int64((i + 1) * total / (restarts + 1)))
		mustDo(t, syscall.Kill(pid, syscall.SIGHUP))
		next := readPID(t, pidFile, pid)
		m := waitNotify(t, events, "MAINPID=")
		if want := "MAINPID=" + strconv.Itoa(next) + "\nREADY=1\n"; !strings.HasPrefix(m, want) {
			t.Errorf("notification %q, want it to begin %q", m, want)
		}
		pids = append(pids, next)
		pid = next
	}
	seen := ld.finish(t, "hand-over restarts", total)
	if n := ld.done(); n < total {
		t.Errorf("only %d of %d requests were sent in time", n, total)
	}
	for _, p := range pids {
		if seen["pid "+strconv.Itoa(p)] == 0 {
			t.Errorf("process %d (of %v) answered nothing", p, pids)
		}
	}
	// The old processes are gone; the socket file is the one they shared.
	for _, p := range pids[:len(pids)-1] {
		waitGone(t, p)
	}
	if fi, err := os.Lstat(c.FCGISocket); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("the socket after the restarts: %v %v", fi, err)
	}
}

// waitGone waits until process pid has exited (a zombie counts as gone).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(stopLimit + 10*time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		if s := string(b); strings.HasPrefix(strings.TrimSpace(s[strings.LastIndexByte(s, ')')+1:]), "Z") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("process %d still runs after its hand-over", pid)
}

// TestHandoverFailed deploys a broken executable and sends SIGHUP: the new
// process fails, and the old one serves on; with the good executable back,
// the next SIGHUP hands over.
func TestHandoverFailed(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "cgiref")
	copyFile(t, cgiref, exe)
	sock := filepath.Join(dir, "fcgi.sock")
	pidFile := filepath.Join(dir, "pid")
	logFile := filepath.Join(dir, "fcgi.log")
	p := startProc(t, "fcgi", logFile, nil, exe, "fcgi", "-listen", "unix:"+sock, "-pid-file", pidFile, "-app", "check")
	p.waitReady(t, "unix", sock)
	pid := readPID(t, pidFile, 0)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			t.Logf("%s:\n%s", logFile, b)
		}
	})

	// A deploy renames the new file into place: the running process keeps
	// its own, os.Executable names the new one.
	broken := filepath.Join(dir, "broken")
	mustWrite(t, broken, "#!/bin/sh\necho broken build >&2\nexit 3\n", 0o755)
	mustDo(t, os.Rename(broken, exe))
	mustDo(t, syscall.Kill(pid, syscall.SIGHUP))
	waitLog(t, logFile, "restart failed; serving on")
	if got := callPID(t, "unix:"+sock); got != pid {
		t.Fatalf("after the failed restart pid %d answered, want %d", got, pid)
	}

	good := filepath.Join(dir, "good")
	copyFile(t, cgiref, good)
	mustDo(t, os.Rename(good, exe))
	mustDo(t, syscall.Kill(pid, syscall.SIGHUP))
	next := readPID(t, pidFile, pid)
	select {
	case <-p.done:
	case <-time.After(stopLimit + 10*time.Second):
		t.Fatal("the old process did not exit after the hand-over")
	}
	if got := callPID(t, "unix:"+sock); got != next {
		t.Errorf("after the hand-over pid %d answered, want the new %d", got, next)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	mustDo(t, err)
	mustWrite(t, to, string(b), 0o755)
}

// waitLog waits until the file at path contains s.
func waitLog(t *testing.T, path, s string) {
	t.Helper()
	deadline := time.Now().Add(startLimit + 30*time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(path); strings.Contains(string(b), s) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: no %q", path, s)
}

// callPID asks the check app at addr, with cgiref call, which process
// answers.
func callPID(t *testing.T, addr string) int {
	t.Helper()
	cmd := exec.Command(cgiref, "call", "-addr", addr, "/pid")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cgiref call %s /pid: %v %q", addr, err, out)
	}
	i := strings.LastIndex(string(out), "pid ")
	if i < 0 {
		t.Fatalf("cgiref call %s /pid: %q", addr, out)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out[i+4:])))
	mustDo(t, err)
	return pid
}
