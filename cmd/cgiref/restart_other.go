//go:build !unix

package main

import (
	"context"
	"errors"
	"log/slog"
	"net"

	substrate "github.com/cgiref/cgiref/internal/server"
)

// handover is, on systems without the SIGHUP hand-over, the pid file and
// the readiness notice alone.
type handover struct {
	log     *slog.Logger
	pidFile string
}

// newHandover serves as lo.serve does (no -listen: Serve(nil), which finds
// what the process inherited, IIS's pipe included).
func newHandover(log *slog.Logger, lo *listenOptions, pidFile string, _ []string, serveOne func(net.Listener) error) (*handover, func() error, string, error) {
	serve, where, err := lo.serve(serveOne)
	return &handover{log: log, pidFile: pidFile}, serve, where, err
}

func (h *handover) ready(status string) {
	if err := writePIDFile(h.pidFile); err != nil {
		h.log.Error("pid file", "err", err)
	}
	notifyReady(h.log, status)
}

func (h *handover) stopping() { notifyStopping(h.log) }

func (h *handover) finish() { removePIDFile(h.pidFile) }

func (h *handover) restart(context.Context) error {
	return errors.New("hand-over: not supported on this system")
}

// serve returns how to serve: on every -listen address, or, without one,
// on what the process inherited, which the server's Serve(nil) finds
// itself (systemd's sockets, file descriptor 0, or IIS's pipe on Windows).
// where describes the listeners for the log.
func (o *listenOptions) serve(serveOne func(net.Listener) error) (serve func() error, where string, err error) {
	if len(o.addrs) == 0 {
		if o.mode != "" || o.group != "" || o.owner != "" {
			return nil, "", errors.New("-socket-mode, -socket-group and -socket-owner apply to unix: addresses only")
		}
		return func() error { return serveOne(nil) }, "inherited listeners", nil
	}
	ls, err := o.listeners()
	if err != nil {
		return nil, "", err
	}
	return func() error { return substrate.ServeAll(ls, serveOne) }, listenAddrs(ls), nil
}
