//go:build !(linux || darwin || freebsd || netbsd || openbsd || windows)

package fcgi

import (
	"fmt"
	"net"
	"os"
)

// StdinIsListener reports whether file descriptor 0 is a listening socket.
// On this system it cannot tell, and reports false.
func StdinIsListener() bool { return false }

// stdinListener returns the listening socket on file descriptor 0, where
// the system supports it.
// inheritedListeners returns the listener on standard input.
func inheritedListeners() ([]net.Listener, error) {
	l, err := stdinListener()
	if err != nil {
		return nil, err
	}
	return []net.Listener{l}, nil
}

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
// shutdown event.
func watchShutdownEvent(shutdown func()) {}
