//go:build unix

package listen

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/cgiref/cgiref/internal/wine"
)

// roundTrip checks that l accepts a connection dialed to network/addr.
func roundTrip(t *testing.T, l net.Listener, network, addr string) {
	t.Helper()
	accepted := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			_, err = c.Write([]byte("ok"))
			c.Close()
		}
		accepted <- err
	}()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s %s: %v", network, addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2)
	if _, err := c.Read(buf); err != nil || string(buf) != "ok" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if err := <-accepted; err != nil {
		t.Fatalf("accept: %v", err)
	}
}

func TestListenTCP(t *testing.T) {
	l, err := Listen("127.0.0.1:0", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	roundTrip(t, l, "tcp", l.Addr().String())
}

func TestListenErrors(t *testing.T) {
	for _, addr := range []string{"", "unix:", "127.0.0.1:notaport", "256.0.0.1:80"} {
		if l, err := Listen(addr, Options{}); err == nil {
			l.Close()
			t.Errorf("Listen(%q): no error", addr)
		}
	}
}

func TestListenUnixModeAndGroup(t *testing.T) {
	gid := os.Getgid()
	g, err := user.LookupGroupId(strconv.Itoa(gid))
	if err != nil {
		t.Fatal(err)
	}
	for _, group := range []string{g.Name, strconv.Itoa(gid)} {
		for _, mode := range []fs.FileMode{0o660, 0o600, 0o666} {
			path := filepath.Join(wine.TempDir(t), "s.sock")
			l, err := Listen("unix:"+path, Options{Mode: mode, Group: group, Owner: strconv.Itoa(os.Getuid())})
			if err != nil {
				t.Fatalf("group %s mode %o: %v", group, mode, err)
			}
			fi, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != mode {
				t.Errorf("mode %v, want socket %o", fi.Mode(), mode)
			}
			st := fi.Sys().(*syscall.Stat_t)
			if int(st.Gid) != gid || int(st.Uid) != os.Getuid() {
				t.Errorf("owner %d:%d, want %d:%d", st.Uid, st.Gid, os.Getuid(), gid)
			}
			roundTrip(t, l, "unix", path)
			l.Close()
		}
	}
}

func TestListenUnknownGroup(t *testing.T) {
	path := filepath.Join(wine.TempDir(t), "s.sock")
	if l, err := Listen("unix:"+path, Options{Group: "no-such-group-cgiref"}); err == nil {
		l.Close()
		t.Fatal("no error for an unknown group")
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a socket file was left behind: %v", err)
	}
}

// staleSocket leaves a socket file at path that nobody listens on.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	ul.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatal(err)
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	path := filepath.Join(wine.TempDir(t), "s.sock")
	staleSocket(t, path)
	l, err := Listen("unix:"+path, Options{})
	if err != nil {
		t.Fatalf("a stale socket was not replaced: %v", err)
	}
	defer l.Close()
	roundTrip(t, l, "unix", path)
}

func TestLiveSocketKept(t *testing.T) {
	path := filepath.Join(wine.TempDir(t), "s.sock")
	live, err := Listen("unix:"+path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	l, err := Listen("unix:"+path, Options{})
	if err == nil {
		l.Close()
		t.Fatal("a second listener took a live socket's place")
	}
	if !errors.Is(err, ErrLive) {
		t.Errorf("error %v, want ErrLive", err)
	}
	// The first server still answers on its file (after the probe's
	// connection, which is first in its queue).
	probe, err := live.Accept()
	if err != nil {
		t.Fatal(err)
	}
	probe.Close()
	roundTrip(t, live, "unix", path)
}

func TestNonSocketKept(t *testing.T) {
	dir := wine.TempDir(t)
	file := filepath.Join(dir, "data")
	if err := os.WriteFile(file, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{file, dir} {
		if l, err := Listen("unix:"+path, Options{}); err == nil {
			l.Close()
			t.Errorf("%s: listened over a non-socket", path)
		}
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "precious" {
		t.Errorf("the file was touched: %q, %v", b, err)
	}
}

func TestCloseUnlinks(t *testing.T) {
	path := filepath.Join(wine.TempDir(t), "s.sock")
	l, err := Listen("unix:"+path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket file still there after Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// A listener whose file was replaced by a newer server's leaves the new one
// alone when it closes.
func TestCloseKeepsSuccessor(t *testing.T) {
	path := filepath.Join(wine.TempDir(t), "s.sock")
	old, err := Listen("unix:"+path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	successor, err := Listen("unix:"+path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer successor.Close()
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the successor's socket was removed: %v", err)
	}
	roundTrip(t, successor, "unix", path)
}

func TestListenAll(t *testing.T) {
	dir := wine.TempDir(t)
	sock := filepath.Join(dir, "a.sock")
	ls, err := ListenAll([]string{"127.0.0.1:0", "unix:" + sock, "[::1]:0"}, Options{Mode: 0o600})
	if err != nil {
		// A machine without IPv6 loopback: two addresses are enough.
		ls, err = ListenAll([]string{"127.0.0.1:0", "unix:" + sock}, Options{Mode: 0o600})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range ls {
		roundTrip(t, l, l.Addr().Network(), l.Addr().String())
	}
	if err := CloseAll(ls); err != nil {
		t.Fatal(err)
	}

	// One bad address: the ones opened before are closed again.
	file := filepath.Join(dir, "not-a-socket")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if ls, err := ListenAll([]string{"unix:" + sock, "unix:" + file}, Options{}); err == nil {
		CloseAll(ls)
		t.Fatal("no error")
	}
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the first listener's socket was left behind: %v", err)
	}
}

func TestRemoveStaleMissing(t *testing.T) {
	if err := RemoveStale(filepath.Join(wine.TempDir(t), "none"), 0); err != nil {
		t.Fatal(err)
	}
}
