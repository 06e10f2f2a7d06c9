//go:build unix

package server

import (
	"net"
	"syscall"
)

// PendingInput reports whether bytes the server has not read wait in c's
// receive queue, or cannot tell (then true). Closing a socket with unread
// bytes resets the connection, and a reset can make the peer drop the end
// of an answer it has not read yet; with none pending (an end of stream
// does not count), a plain close is safe and needs no lingering. It peeks
// without blocking: one system call, nothing consumed.
func PendingInput(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	pending := true
	err = raw.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		pending = n > 0 || (err != nil && err != syscall.EAGAIN)
		return true
	})
	return pending || err != nil
}
