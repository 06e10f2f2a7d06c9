package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/cgiref/cgiref/internal/listen"
)

// listenOptions are the listening flags of the fcgi and scgi subcommands.
type listenOptions struct {
	addrs multiFlag // -listen, repeatable
	mode  string    // -socket-mode, octal
	group string    // -socket-group
	owner string    // -socket-owner
}

// listenFlags registers -listen (repeatable), -socket-mode, -socket-group
// and -socket-owner on fs.
func listenFlags(fs *flag.FlagSet) *listenOptions {
	o := &listenOptions{}
	fs.Var(&o.addrs, "listen", "listen on `ADDR`: host:port or unix:PATH; repeat for several (default: the sockets systemd passes, else the listening socket on file descriptor 0)")
	fs.StringVar(&o.mode, "socket-mode", "", "permissions of unix: sockets, in octal, such as `0660` (default: from the umask)")
	fs.StringVar(&o.group, "socket-group", "", "group of unix: sockets, a `NAME` or number, such as www-data")
	fs.StringVar(&o.owner, "socket-owner", "", "owner of unix: sockets, a user `NAME` or number (needs privilege)")
	return o
}

// options turns the socket flags into listen.Options.
func (o *listenOptions) options() (listen.Options, error) {
	var opts listen.Options
	if o.mode != "" {
		m, err := strconv.ParseUint(o.mode, 8, 32)
		if err != nil || m == 0 || m > 0o777 {
			return opts, fmt.Errorf("-socket-mode %q: want octal permissions such as 0660", o.mode)
		}
		opts.Mode = fs.FileMode(m)
	}
	opts.Group, opts.Owner = o.group, o.owner
	return opts, nil
}

// listeners opens every -listen address, or, without one, takes the
// sockets the process inherited (systemd socket activation, else file
// descriptor 0).
func (o *listenOptions) listeners() ([]net.Listener, error) {
	opts, err := o.options()
	if err != nil {
		return nil, err
	}
	if len(o.addrs) > 0 {
		unix := false
		for _, a := range o.addrs {
			unix = unix || strings.HasPrefix(a, listen.UnixPrefix)
		}
		if !unix && (o.mode != "" || o.group != "" || o.owner != "") {
			return nil, errors.New("-socket-mode, -socket-group and -socket-owner apply to unix: addresses only")
		}
		return listen.ListenAll(o.addrs, opts)
	}
	ls, err := listen.Inherited()
	if err != nil {
		return nil, err
	}
	if len(ls) == 0 {
		return nil, errors.New("no -listen, and neither systemd (LISTEN_FDS) nor file descriptor 0 passed a listening socket")
	}
	return ls, nil
}

// listenAddrs lists the listeners' addresses for a log line.
func listenAddrs(ls []net.Listener) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = l.Addr().Network() + ":" + l.Addr().String()
	}
	return strings.Join(s, ",")
}

// notifyReady tells a service manager (NOTIFY_SOCKET) that the server is
// up; a failure to tell is logged, not fatal.
func notifyReady(log *slog.Logger, status string) {
	if _, err := listen.Ready(status); err != nil {
		log.Warn("sd_notify READY", "err", err)
	}
}

// notifyStopping tells a service manager that the server is shutting down.
func notifyStopping(log *slog.Logger) {
	if _, err := listen.Stopping("stopping"); err != nil {
		log.Warn("sd_notify STOPPING", "err", err)
	}
}
