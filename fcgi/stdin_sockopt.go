//go:build linux || darwin || freebsd || netbsd || openbsd

package fcgi

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// StdinIsListener reports whether file descriptor 0 is a listening socket,
// the way a web server that spawns a FastCGI application hands it its
// connections (then Serve with a nil listener serves them).
func StdinIsListener() bool {
	v, err := syscall.GetsockoptInt(0, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	return err == nil && v != 0
}

// stdinListener returns the listening socket on file descriptor 0.
func stdinListener() (net.Listener, error) {
	f := os.NewFile(0, "stdin")
	l, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("fcgi: file descriptor 0 is not a listening socket: %w", err)
	}
	return l, nil
}

// watchShutdownEvent does nothing: only Windows web servers signal a
// shutdown event (_FCGI_SHUTDOWN_EVENT_); elsewhere they send SIGTERM.
func watchShutdownEvent(shutdown func()) {}
