//go:build linux || darwin || freebsd || netbsd || openbsd

package fcgi

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	inherit "github.com/cgiref/cgiref/internal/listen"
)

// StdinIsListener reports whether file descriptor 0 is a listening socket,
// the way a web server that spawns a FastCGI application hands it its
// connections (then Serve with a nil listener serves them).
func StdinIsListener() bool {
	v, err := syscall.GetsockoptInt(0, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	return err == nil && v != 0
}

// inheritedListeners returns the listening sockets the process was started
// with: systemd's (LISTEN_FDS), else the one on file descriptor 0.
func inheritedListeners() ([]net.Listener, error) {
	ls, err := inherit.Inherited()
	if err != nil {
		return nil, fmt.Errorf("fcgi: %w", err)
	}
	if len(ls) == 0 {
		return nil, errors.New("fcgi: neither systemd (LISTEN_FDS) nor file descriptor 0 passed a listening socket")
	}
	return ls, nil
}

// watchShutdownEvent does nothing: only Windows web servers signal a
// shutdown event (_FCGI_SHUTDOWN_EVENT_); elsewhere they send SIGTERM.
func watchShutdownEvent(shutdown func()) {}
