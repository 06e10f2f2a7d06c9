package gateway

import (
	"errors"
	"syscall"
)

// Windows error numbers that say the peer went away. The syscall package
// names some of them; the rest are spelled out (golang.org/x/sys/windows
// has them all, but the core does not need that dependency for six numbers).
const (
	errorBrokenPipe       syscall.Errno = 109   // ERROR_BROKEN_PIPE
	errorNoData           syscall.Errno = 232   // ERROR_NO_DATA: the pipe is being closed
	errorPipeNotConnected syscall.Errno = 233   // ERROR_PIPE_NOT_CONNECTED
	wsaeConnAborted       syscall.Errno = 10053 // WSAECONNABORTED
	wsaeConnReset         syscall.Errno = 10054 // WSAECONNRESET
	wsaeShutdown          syscall.Errno = 10058 // WSAESHUTDOWN
)

// isOSClientGone reports whether err is a Windows error of a closed pipe or
// a reset, aborted or shut-down socket.
func isOSClientGone(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case errorBrokenPipe, errorNoData, errorPipeNotConnected,
		wsaeConnAborted, wsaeConnReset, wsaeShutdown:
		return true
	}
	return false
}
