package listen

import (
	"fmt"
	"net"

	"github.com/coreos/go-systemd/v22/activation"
)

// Systemd returns the listening sockets systemd (or systemd-socket-activate)
// passed to this process, in order, with their names from LISTEN_FDNAMES
// ("LISTEN_FD_3" and so on for a socket without one). It returns nothing
// when LISTEN_FDS is unset or LISTEN_PID names another process.
//
// It unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES in any case, so that
// child processes do not take the sockets for theirs, and marks the
// descriptors close-on-exec. A passed descriptor that is not a listening
// stream socket is an error; then every listener is closed again.
func Systemd() (ls []net.Listener, names []string, err error) {
	files := activation.Files(true)
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, f := range files {
		l, err := net.FileListener(f)
		if err != nil {
			CloseAll(ls)
			return nil, nil, fmt.Errorf("listen: systemd socket %s: %w", f.Name(), err)
		}
		ls = append(ls, l)
		names = append(names, f.Name())
	}
	return ls, names, nil
}

// Inherited returns the listening sockets this process was started with:
// systemd's (LISTEN_FDS, see Systemd) when there are any, else the
// listening socket on file descriptor 0 (how web servers such as lighttpd,
// mod_fcgid and IIS start a FastCGI application; see Stdin). It returns
// nil, nil when there are none.
func Inherited() ([]net.Listener, error) {
	ls, _, err := Systemd()
	if err != nil || len(ls) > 0 {
		return ls, err
	}
	l, err := Stdin()
	if err != nil || l == nil {
		return nil, err
	}
	return []net.Listener{l}, nil
}

// StdinIsListener reports whether file descriptor 0 is a listening socket.
func StdinIsListener() bool { return stdinIsListener() }

// Stdin returns the listening socket on file descriptor 0, or nil, nil
// when file descriptor 0 is not one. Descriptor 0 itself is then pointed
// at the null device, so that nothing else reads from the socket or keeps
// it open.
func Stdin() (net.Listener, error) {
	if !stdinIsListener() {
		return nil, nil
	}
	return takeStdin()
}
