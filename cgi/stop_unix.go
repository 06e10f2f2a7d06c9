//go:build unix

package cgi

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// stopSignals are the signals by which a web server stops a CGI program.
var stopSignals = []os.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT}

// pipeSignals are received (and dropped) while a request runs, so that a
// write to a closed standard output fails instead of killing the process.
var pipeSignals = []os.Signal{syscall.SIGPIPE}

// pollIntervalMillis bounds how long watchClosed's poll waits before it
// checks whether it should stop.
const pollIntervalMillis = 1000

// watchClosed calls gone, once, when the reading end of f (a pipe or a
// socket) is closed: poll reports POLLERR (a pipe without readers) or
// POLLHUP (a socket closed both ways; a half-close is not a hang-up). A
// file, a terminal or /dev/null never reports either. The returned
// function stops the watch (gone may still be called once if the close
// was seen at that very moment).
func watchClosed(f *os.File, gone func()) (stop func()) {
	rc, err := f.SyscallConn()
	if err != nil {
		return func() {}
	}
	var fd int
	if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		fds := []unix.PollFd{{Fd: int32(fd)}}
		for {
			select {
			case <-done:
				return
			default:
			}
			fds[0].Revents = 0
			n, err := unix.Poll(fds, pollIntervalMillis)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil || fds[0].Revents&unix.POLLNVAL != 0 {
				return
			}
			if n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0 {
				gone()
				return
			}
		}
	}()
	// The watch ends within pollIntervalMillis; nobody waits for it.
	return func() { close(done) }
}
