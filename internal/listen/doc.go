// Package listen opens the listening sockets of cgiref's servers: TCP
// addresses and unix sockets with a chosen mode, owner and group, several
// addresses at once, the sockets a service manager hands over (systemd
// socket activation, or a listening socket on file descriptor 0), and the
// sd_notify readiness protocol.
//
// An address is "HOST:PORT" (TCP; HOST may be empty, an IP address or a
// name) or "unix:PATH". A unix socket file is created fresh: a stale one
// that nobody answers on is removed first, a live one is never touched, and
// anything at PATH that is not a socket is an error. Closing the listener
// removes the file again, but only while it is still the file this listener
// created (a newer process may already have put its own socket there).
//
// The systemd protocols are those of sd_listen_fds(3) and sd_notify(3),
// implemented by github.com/coreos/go-systemd/v22's activation and daemon
// packages.
package listen
