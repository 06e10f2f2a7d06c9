//go:build unix

package listen

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

func stdinIsListener() bool {
	v, err := unix.GetsockoptInt(0, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	return err == nil && v != 0
}

// takeStdin moves the socket on descriptor 0 to a new close-on-exec
// descriptor and puts the null device on 0.
func takeStdin() (net.Listener, error) {
	fd, err := unix.FcntlInt(0, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, fmt.Errorf("listen: fd 0: %w", err)
	}
	f := os.NewFile(uintptr(fd), "stdin-listener")
	defer f.Close()
	l, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("listen: fd 0: %w", err)
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("listen: fd 0: %w", err)
	}
	defer null.Close()
	if err := unix.Dup2(int(null.Fd()), 0); err != nil {
		l.Close()
		return nil, fmt.Errorf("listen: fd 0: %w", err)
	}
	return l, nil
}
