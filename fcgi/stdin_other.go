//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package fcgi

// StdinIsListener reports whether file descriptor 0 is a listening socket.
// On this system it cannot tell, and reports false.
func StdinIsListener() bool { return false }
