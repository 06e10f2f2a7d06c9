//go:build integration

package integration

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSocketPermissions runs nginx with its workers as www-data in front
// of `cgiref fcgi -listen unix:PATH` started as root, the way
// docs/nginx.md says: with -socket-mode 0660 -socket-group www-data the
// workers reach the socket; with mode 0600 (owned by root) every request
// is a 502 and nginx logs "Permission denied".
func TestSocketPermissions(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the socket permission test runs as root (nginx's workers switch to www-data)")
	}
	c := newConf(t, true)
	if c.User != "www-data" {
		t.Fatalf("nginx's workers run as %q, want www-data", c.User)
	}
	s := newServer(t, "nginx", c)
	errorLog := filepath.Join(c.Dir, "error.log")
	s.logs = append(s.logs, errorLog)
	render(t, c, "cgiref_fastcgi_params", "cgiref_fastcgi_params")
	render(t, c, "cgiref_scgi_params", "cgiref_scgi_params")
	conf := render(t, c, "nginx.conf.tmpl", "nginx.conf")
	// The socket's folder is www-data's and traversable (0755).
	fi, err := os.Stat(filepath.Dir(c.FCGISocket))
	mustDo(t, err)
	if fi.Mode().Perm()&0o001 == 0 {
		t.Fatalf("%s is %v: the workers cannot reach the socket in it", filepath.Dir(c.FCGISocket), fi.Mode())
	}
	s.start(t, nil, "nginx", "-p", c.Dir, "-c", conf, "-e", errorLog, "-g", "daemon off;")
	url := s.base + "/fcgi-unix/pid"

	g, err := user.LookupGroup("www-data")
	mustDo(t, err)
	gid, err := strconv.Atoi(g.Gid)
	mustDo(t, err)

	t.Run("0660 www-data", func(t *testing.T) {
		p := startProc(t, "fcgi-0660", s.addLog("fcgi-0660.log"), nil, cgiref, "fcgi",
			"-listen", "unix:"+c.FCGISocket, "-socket-mode", "0660", "-socket-group", "www-data", "-app", "check")
		p.waitReady(t, "unix", c.FCGISocket)
		wantSocket(t, c.FCGISocket, 0o660, 0, gid)
		resp, body := send(t, "GET", url, nil, nil)
		wantStatus(t, resp, 200, body)
		if !strings.HasPrefix(string(body), "pid ") {
			t.Errorf("body %q, want the check app's pid", body)
		}
		p.stop(t)
		if _, err := os.Lstat(c.FCGISocket); !os.IsNotExist(err) {
			t.Errorf("the socket after SIGTERM: %v, want it removed", err)
		}
	})
	t.Run("0600 root", func(t *testing.T) {
		before := s.logSizes()
		p := startProc(t, "fcgi-0600", s.addLog("fcgi-0600.log"), nil, cgiref, "fcgi",
			"-listen", "unix:"+c.FCGISocket, "-socket-mode", "0600", "-app", "check")
		p.waitReady(t, "unix", c.FCGISocket)
		wantSocket(t, c.FCGISocket, 0o600, 0, 0)
		resp, body := send(t, "GET", url, nil, nil)
		wantStatus(t, resp, 502, body)
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(s.logsSince(before), "(13: Permission denied)") {
			if time.Now().After(deadline) {
				t.Fatalf("no \"(13: Permission denied)\" in nginx's error log:\n%s", s.logsSince(before))
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// wantSocket checks the socket file's mode, owner and group.
func wantSocket(t *testing.T, path string, mode os.FileMode, uid, gid int) {
	t.Helper()
	fi, err := os.Lstat(path)
	mustDo(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != mode || int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("%s: %v uid %d gid %d, want a socket %v uid %d gid %d", path, fi.Mode(), st.Uid, st.Gid, mode, uid, gid)
	}
}
