//go:build unix

package main

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cgiref/cgiref/internal/listen"

	"github.com/cgiref/cgiref/internal/wine"
)

// readPID waits until the pid file holds a process id other than not.
func readPID(t *testing.T, path string, not int) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid != not {
				return pid
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: no new process id (old %d)", path, not)
	return 0
}

// callPID asks the check app at addr which process answers.
func callPID(t *testing.T, proto, addr string) int {
	t.Helper()
	out, errs, code := runCallArgs("-proto", proto, "-addr", addr, "/pid")
	_, body, _ := strings.Cut(out, "\r\n\r\n")
	if body == "" {
		_, body, _ = strings.Cut(out, "\n\n")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(body, "pid ")))
	if code != 0 || err != nil {
		t.Fatalf("call %s %s /pid: exit %d, %q %q", proto, addr, code, out, errs)
	}
	return pid
}

// alive reports whether process pid still runs. An exited process whose
// parent is gone waits as a zombie until PID 1 reaps it, which not every
// container's PID 1 does: a zombie counts as gone.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist) && runtime.GOOS != "linux"
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	s := string(b)
	rest := s[strings.LastIndexByte(s, ')')+1:]
	return !strings.HasPrefix(strings.TrimSpace(rest), "Z")
}

// TestHandover runs `cgiref fcgi|scgi` on a unix socket and a TCP port,
// sends SIGHUP twice, and checks that each time a new process answers on
// both, the old one exits, and the socket file stays; SIGTERM at the end
// removes the socket and pid files.
func TestHandover(t *testing.T) {
	for _, proto := range []string{"fcgi", "scgi"} {
		t.Run(proto, func(t *testing.T) {
			dir := wine.TempDir(t)
			sock := filepath.Join(dir, "s.sock")
			pidFile := filepath.Join(dir, "pid")
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			tcp := l.Addr().String()
			l.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := command(t, ctx, []string{keepMainEnv + "=1"}, proto, "-listen", "unix:"+sock, "-listen", tcp,
				"-socket-mode", "0660", "-pid-file", pidFile, "-app", "check")
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			pid := readPID(t, pidFile, 0)
			var last int
			t.Cleanup(func() {
				if last != 0 {
					syscall.Kill(last, syscall.SIGKILL)
				}
			})
			if pid != cmd.Process.Pid {
				t.Fatalf("pid file %d, process %d", pid, cmd.Process.Pid)
			}
			fi, err := os.Lstat(sock)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				if got := callPID(t, proto, "unix:"+sock); got != pid {
					t.Fatalf("round %d: pid %d answered, want %d", i, got, pid)
				}
				if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
				next := readPID(t, pidFile, pid)
				last = next
				// No request meanwhile: the old process must stop on its
				// own, not only once a connection wakes its Accept.
				if i == 0 {
					select {
					case err := <-exited:
						if err != nil {
							t.Errorf("the first process: %v", err)
						}
					case <-time.After(20 * time.Second):
						t.Fatal("the first process did not exit after the hand-over")
					}
				} else {
					deadline := time.Now().Add(20 * time.Second)
					for alive(pid) && time.Now().Before(deadline) {
						time.Sleep(20 * time.Millisecond)
					}
					if alive(pid) {
						t.Fatalf("process %d did not exit after the hand-over", pid)
					}
				}
				for _, addr := range []string{"unix:" + sock, tcp} {
					if got := callPID(t, proto, addr); got != next {
						t.Errorf("round %d: %s: pid %d answered, want the new %d", i, addr, got, next)
					}
				}
				again, err := os.Lstat(sock)
				if err != nil || !os.SameFile(fi, again) || again.Mode().Perm() != 0o660 {
					t.Fatalf("round %d: the socket file changed: %v %v", i, again, err)
				}
				pid = next
			}
			if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for alive(pid) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			last = 0
			for _, p := range []string{sock, pidFile} {
				if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s after SIGTERM: %v, want it gone", p, err)
				}
			}
		})
	}
}

// A drained listener stops accepting in this process, keeps its socket
// file, parks Accept until Close, and leaves the socket open for another
// descriptor of it.
func TestHandoverListenerDrain(t *testing.T) {
	path := filepath.Join(wine.TempDir(t), "d.sock")
	inner, err := listen.Listen("unix:"+path, listen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := newHandoverListener(inner)
	dup, err := l.file()
	if err != nil {
		t.Fatal(err)
	}
	other, err := net.FileListener(dup)
	dup.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	accepted := make(chan error, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				accepted <- err
				return
			}
			c.Close()
		}
	}()
	l.drain()
	select {
	case <-l.parked:
	case <-time.After(10 * time.Second):
		t.Fatal("Accept did not park after drain")
	}
	select {
	case err := <-accepted:
		t.Fatalf("Accept returned %v before Close", err)
	default:
	}
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the socket file went with the drain: %v", err)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if c2, err := other.Accept(); err != nil {
		t.Fatalf("the other descriptor: %v", err)
	} else {
		c2.Close()
	}
	l.Close()
	if err := <-accepted; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Errorf("Close of a drained listener removed the socket file: %v", err)
	}
}
