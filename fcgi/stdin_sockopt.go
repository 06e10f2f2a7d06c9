//go:build linux || darwin || freebsd || netbsd || openbsd

package fcgi

import "syscall"

// StdinIsListener reports whether file descriptor 0 is a listening socket,
// the way a web server that spawns a FastCGI application hands it its
// connections (then Serve with a nil listener serves them).
func StdinIsListener() bool {
	v, err := syscall.GetsockoptInt(0, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	return err == nil && v != 0
}
