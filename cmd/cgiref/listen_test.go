//go:build unix

package main

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cgiref/cgiref/internal/wine"

	substrate "github.com/cgiref/cgiref/internal/server"
)

// parseListen parses args with listenFlags only.
func parseListen(t *testing.T, args ...string) *listenOptions {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := listenFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestListenFlags(t *testing.T) {
	dir := wine.TempDir(t)
	a, b := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b.sock")
	gid := strconv.Itoa(os.Getgid())
	o := parseListen(t, "-listen", "unix:"+a, "-listen", "127.0.0.1:0", "-listen", "unix:"+b,
		"-socket-mode", "0660", "-socket-group", gid)
	ls, err := o.listeners()
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 3 {
		t.Fatalf("%d listeners, want 3", len(ls))
	}
	for _, p := range []string{a, b} {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o660 || strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Gid)) != gid {
			t.Errorf("%s: mode %v gid %d, want 0660 gid %s", p, fi.Mode(), fi.Sys().(*syscall.Stat_t).Gid, gid)
		}
	}
	if got := listenAddrs(ls); !strings.Contains(got, "unix:"+a) || !strings.Contains(got, "tcp:127.0.0.1:") {
		t.Errorf("listenAddrs: %q", got)
	}
	for _, l := range ls {
		l.Close()
	}
	for _, p := range []string{a, b} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s left behind after Close", p)
		}
	}
}

func TestListenFlagErrors(t *testing.T) {
	sock := "unix:" + filepath.Join(wine.TempDir(t), "s.sock")
	for _, args := range [][]string{
		{"-listen", sock, "-socket-mode", "rw"},
		{"-listen", sock, "-socket-mode", "0"},
		{"-listen", sock, "-socket-mode", "1777"},
		{"-listen", sock, "-socket-group", "no-such-group-cgiref"},
		{"-listen", "127.0.0.1:0", "-socket-mode", "0660"},
		{"-listen", "127.0.0.1:notaport"},
		// No -listen and nothing inherited: the test process has neither
		// LISTEN_FDS nor a listening socket on fd 0.
		{},
	} {
		ls, err := parseListen(t, args...).listeners()
		if err == nil {
			for _, l := range ls {
				l.Close()
			}
			t.Errorf("%q: no error", args)
		}
	}
}

func TestServeAll(t *testing.T) {
	var ls []net.Listener
	for range 3 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	stop := errors.New("stopped")
	accepted := make(chan string, 3)
	done := make(chan error, 1)
	go func() {
		done <- substrate.ServeAll(ls, func(l net.Listener) error {
			c, err := l.Accept()
			if err != nil {
				return err
			}
			c.Close()
			accepted <- l.Addr().String()
			return stop
		})
	}()
	for _, l := range ls {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	select {
	case err := <-done:
		if err != stop {
			t.Errorf("ServeAll: %v, want the serve error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeAll did not return")
	}
	if len(accepted) != 3 {
		t.Errorf("%d listeners served, want 3", len(accepted))
	}
}

func TestNotifyHelpers(t *testing.T) {
	name := filepath.Join(wine.TempDir(t), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Setenv("NOTIFY_SOCKET", name)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	notifyReady(log, "serving")
	notifyStopping(log)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	for _, want := range []string{"READY=1\nSTATUS=serving", "STOPPING=1\nSTATUS=stopping"} {
		n, err := c.Read(buf)
		if err != nil || string(buf[:n]) != want {
			t.Errorf("got %q, %v; want %q", buf[:n], err, want)
		}
	}
}
