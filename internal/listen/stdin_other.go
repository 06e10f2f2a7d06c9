//go:build !unix

package listen

import (
	"errors"
	"net"
)

// stdinIsListener cannot tell on this system, and reports false.
func stdinIsListener() bool { return false }

func takeStdin() (net.Listener, error) {
	return nil, errors.New("listen: fd 0: not supported on this system")
}
