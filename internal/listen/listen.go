package listen

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options says how Listen opens a socket. The zero value listens with the
// process's umask, owner and group, and without TCP keep-alive probes.
type Options struct {
	// Mode, when not 0, is the permission of a unix socket file, such as
	// 0o660. Connecting to a unix socket needs write permission on it.
	Mode fs.FileMode
	// Owner and Group, when not empty, own a unix socket file: a user or
	// group name, or a number. Changing the owner needs privilege; changing
	// the group needs ownership and membership in it (or privilege).
	Owner, Group string
	// KeepAlive is the TCP keep-alive period of accepted connections. 0
	// means none: the peer is a web server next door whose connections the
	// servers' own timeouts watch.
	KeepAlive time.Duration
	// DialTimeout bounds the probe of an existing socket file. 0 means one
	// second.
	DialTimeout time.Duration
}

// UnixPrefix marks a unix socket address: "unix:/run/app.sock".
const UnixPrefix = "unix:"

// ErrLive is returned (wrapped) when a unix socket file already has a
// server answering on it.
var ErrLive = errors.New("a server is listening on the socket")

// Listen listens on addr: "HOST:PORT" for TCP, "unix:PATH" for a unix
// socket.
func Listen(addr string, opts Options) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, UnixPrefix); ok {
		return listenUnix(path, opts)
	}
	if addr == "" {
		return nil, errors.New("listen: empty address")
	}
	ka := opts.KeepAlive
	if ka == 0 {
		ka = -1
	}
	lc := net.ListenConfig{KeepAlive: ka}
	l, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	return l, nil
}

// ListenAll listens on every address of addrs with the same options. When
// one fails, the listeners already opened are closed again.
func ListenAll(addrs []string, opts Options) ([]net.Listener, error) {
	ls := make([]net.Listener, 0, len(addrs))
	for _, a := range addrs {
		l, err := Listen(a, opts)
		if err != nil {
			CloseAll(ls)
			return nil, err
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// CloseAll closes every listener of ls and returns the first error.
func CloseAll(ls []net.Listener) error {
	var first error
	for _, l := range ls {
		if err := l.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// UnixListener is a unix socket listener made by Listen. Close removes its
// socket file while the file is still the one it created.
type UnixListener struct {
	*net.UnixListener
	path string
	file fs.FileInfo // the socket file as created

	once sync.Once
	err  error
}

// Path returns the socket file's path.
func (l *UnixListener) Path() string { return l.path }

// Close stops listening and removes the socket file unless another file
// has taken its place.
func (l *UnixListener) Close() error {
	l.once.Do(func() {
		l.err = l.UnixListener.Close()
		if fi, err := os.Lstat(l.path); err == nil && os.SameFile(fi, l.file) {
			if err := os.Remove(l.path); err != nil && l.err == nil {
				l.err = fmt.Errorf("listen: %w", err)
			}
		}
	})
	return l.err
}

func listenUnix(path string, opts Options) (net.Listener, error) {
	if path == "" {
		return nil, errors.New("listen: unix: empty path")
	}
	uid, gid, err := owner(opts)
	if err != nil {
		return nil, err
	}
	if err := RemoveStale(path, opts.DialTimeout); err != nil {
		return nil, err
	}
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	ul.SetUnlinkOnClose(false)
	fi, err := os.Lstat(path)
	if err != nil {
		ul.Close()
		return nil, fmt.Errorf("listen: %w", err)
	}
	l := &UnixListener{UnixListener: ul, path: path, file: fi}
	if uid >= 0 || gid >= 0 {
		if err := os.Lchown(path, uid, gid); err != nil {
			l.Close()
			return nil, fmt.Errorf("listen: socket owner: %w", err)
		}
	}
	if opts.Mode != 0 {
		if err := os.Chmod(path, opts.Mode.Perm()); err != nil {
			l.Close()
			return nil, fmt.Errorf("listen: socket mode: %w", err)
		}
	}
	return l, nil
}

// owner resolves Options.Owner and Group to ids; -1 means unchanged.
func owner(opts Options) (uid, gid int, err error) {
	uid, gid = -1, -1
	if opts.Owner != "" {
		if uid, err = lookupID(opts.Owner, func(n string) (string, error) {
			u, err := user.Lookup(n)
			if err != nil {
				return "", err
			}
			return u.Uid, nil
		}); err != nil {
			return -1, -1, fmt.Errorf("listen: socket owner %q: %w", opts.Owner, err)
		}
	}
	if opts.Group != "" {
		if gid, err = lookupID(opts.Group, func(n string) (string, error) {
			g, err := user.LookupGroup(n)
			if err != nil {
				return "", err
			}
			return g.Gid, nil
		}); err != nil {
			return -1, -1, fmt.Errorf("listen: socket group %q: %w", opts.Group, err)
		}
	}
	return uid, gid, nil
}

// lookupID returns the number name stands for: itself when it is one,
// else what lookup finds.
func lookupID(name string, lookup func(string) (string, error)) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	s, err := lookup(name)
	if err != nil {
		return -1, err
	}
	return strconv.Atoi(s)
}

// RemoveStale removes the unix socket file at path when nobody answers on
// it, so that a new listener can take its place. It does nothing when
// nothing is at path. It refuses (and removes nothing) when path is not a
// socket, when a server accepts connections there (ErrLive), and when the
// probe fails for any other reason than a refused connection (a server
// whose backlog is full, a socket the process may not connect to).
// timeout bounds the probe; 0 means one second.
func RemoveStale(path string, timeout time.Duration) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("listen: %s exists and is not a socket", path)
	}
	if timeout <= 0 {
		timeout = time.Second
	}
	c, err := net.DialTimeout("unix", path, timeout)
	if err == nil {
		c.Close()
		return fmt.Errorf("listen: %s: %w", path, ErrLive)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("listen: %s: not removed, probing it failed: %w", path, err)
	}
	// Only a file that is still the one probed is removed.
	if again, err := os.Lstat(path); err != nil || !os.SameFile(fi, again) {
		return fmt.Errorf("listen: %s changed while probed", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("listen: removing stale socket: %w", err)
	}
	return nil
}
