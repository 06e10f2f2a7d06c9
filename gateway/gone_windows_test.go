package gateway

import (
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
)

func TestIsClientGoneWindows(t *testing.T) {
	tests := []struct {
		err  error
		gone bool
	}{
		{syscall.Errno(109), true},   // ERROR_BROKEN_PIPE
		{syscall.Errno(232), true},   // ERROR_NO_DATA
		{syscall.Errno(233), true},   // ERROR_PIPE_NOT_CONNECTED
		{syscall.Errno(10053), true}, // WSAECONNABORTED
		{syscall.Errno(10054), true}, // WSAECONNRESET
		{syscall.Errno(10058), true}, // WSAESHUTDOWN
		{&net.OpError{Op: "wsasend", Net: "tcp", Err: os.NewSyscallError("wsasend", syscall.Errno(10054))}, true},
		{&os.PathError{Op: "write", Path: "stdout", Err: syscall.Errno(232)}, true},
		{fmt.Errorf("fcgi: write: %w", syscall.Errno(109)), true},
		{syscall.Errno(5), false},     // ERROR_ACCESS_DENIED
		{syscall.Errno(10060), false}, // WSAETIMEDOUT
		{syscall.ERROR_FILE_NOT_FOUND, false},
	}
	for _, tt := range tests {
		if got := IsClientGone(tt.err); got != tt.gone {
			t.Errorf("IsClientGone(%v) = %v, want %v", tt.err, got, tt.gone)
		}
	}
}
