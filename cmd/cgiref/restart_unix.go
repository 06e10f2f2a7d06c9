//go:build unix

package main

// The SIGHUP hand-over: `cgiref fcgi` and `cgiref scgi` replace themselves
// with a new process (a newly deployed binary) without closing their
// listening sockets, so that no connection is refused and no request fails.
//
// On SIGHUP the running process (the parent) starts its executable again
// (os.Executable: after a deploy that renamed a new binary into place, the
// new one) with the same arguments and its listening sockets as file
// descriptors 3, 4, ..., announced by the systemd convention: LISTEN_FDS
// and LISTEN_FDNAMES. The child serves them through the same path that
// serves the sockets of systemd socket activation (listen.Systemd).
//
// sd_listen_fds(3) wants LISTEN_PID to be the child's own process id, which
// systemd sets between fork and exec; Go cannot run code there. The parent
// therefore sets CGIREF_LISTEN_PARENT to its own process id instead, and the
// child, before it looks for sockets, sets LISTEN_PID to its own id if and
// only if its parent process is the one CGIREF_LISTEN_PARENT names. That
// keeps what LISTEN_PID is for: a process further down that inherits the
// environment (not the sockets) does not take the variables for its own,
// and both variables are unset once read.
//
// The child tells the parent it serves by writing "READY=1" to a pipe
// (descriptor CGIREF_READY_FD) after it has taken the sockets, watches
// its signals, and has written the -pid-file. Only then does the parent
// stop: it stops accepting (closing its copies of the sockets, never the
// socket files), finishes the requests in flight and exits. Connections
// that arrive meanwhile wait in the sockets' queues for whichever process
// accepts first. A child that exits or stays silent for handoverTimeout
// is killed, and the parent goes on serving as if no SIGHUP had come.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cgiref/cgiref/internal/listen"
	"golang.org/x/sys/unix"

	substrate "github.com/cgiref/cgiref/internal/server"
)

// Environment variables of the hand-over, besides systemd's LISTEN_FDS,
// LISTEN_FDNAMES and LISTEN_PID.
const (
	envListenParent = "CGIREF_LISTEN_PARENT" // process id of the process that passed LISTEN_FDS
	envReadyFD      = "CGIREF_READY_FD"      // descriptor the child writes READY=1 to
)

// handoverTimeout bounds the wait for the new process to report ready.
const handoverTimeout = 30 * time.Second

// handoverSettle is how long the old process waits, once it no longer
// accepts, before its Shutdown: the connections it accepted last have had
// no time to send their first request, and the servers' Shutdown closes a
// connection with no request under way at once (FastCGI) or one still
// waiting for its header block (SCGI), which would drop a request the web
// server has just sent. Web servers send the request as soon as they
// connect.
const handoverSettle = 500 * time.Millisecond

// handover holds what fcgi and scgi serve on and hand over on SIGHUP.
type handover struct {
	log     *slog.Logger
	command []string // the subcommand and its arguments, for the new process
	pidFile string   // -pid-file; "" for none

	ls    []*handoverListener
	names []string // LISTEN_FDNAMES entries

	parent    *os.File     // the pipe to the parent when this process is a hand-over's child
	owned     []ownedFile  // unix socket files of -listen this process removes at its end
	handedOff atomic.Bool  // the sockets now belong to a new process
	childPID  atomic.Int64 // that process
}

// ownedFile is a socket file a hand-over's child removes when it stops for
// good, unless another file has taken its place.
type ownedFile struct {
	path string
	fi   fs.FileInfo
}

// newHandover opens the listeners of lo: the sockets a parent handed over,
// else every -listen address, else the sockets systemd passed or the one
// on file descriptor 0. serveOne serves one listener; serve serves them
// all; where describes them for the log.
func newHandover(log *slog.Logger, lo *listenOptions, pidFile string, command []string, serveOne func(net.Listener) error) (h *handover, serve func() error, where string, err error) {
	h = &handover{log: log, command: command, pidFile: pidFile}
	ls, names, err := h.listeners(lo, command[0])
	if err != nil {
		return nil, nil, "", err
	}
	h.names = names
	for _, l := range ls {
		h.ls = append(h.ls, newHandoverListener(l))
	}
	served := make([]net.Listener, len(h.ls))
	for i, l := range h.ls {
		served[i] = l
	}
	serve = func() error { return substrate.ServeAll(served, serveOne) }
	return h, serve, listenAddrs(ls), nil
}

// listeners finds the sockets to serve and a name for each.
func (h *handover) listeners(lo *listenOptions, name string) ([]net.Listener, []string, error) {
	parent, err := adoptHandover()
	if err != nil {
		return nil, nil, err
	}
	if parent != nil {
		h.parent = parent
		ls, names, err := listen.Systemd()
		if err == nil && len(ls) == 0 {
			err = errors.New("the parent passed no listening socket")
		}
		if err != nil {
			parent.Close()
			return nil, nil, fmt.Errorf("hand-over: %w", err)
		}
		h.owned = ownedSockets(lo.addrs)
		return ls, names, nil
	}
	if len(lo.addrs) > 0 {
		ls, err := lo.listeners()
		return ls, repeat(name, len(ls)), err
	}
	if lo.mode != "" || lo.group != "" || lo.owner != "" {
		return nil, nil, errors.New("-socket-mode, -socket-group and -socket-owner apply to unix: addresses only")
	}
	ls, names, err := listen.Systemd()
	if err != nil || len(ls) > 0 {
		return ls, names, err
	}
	l, err := listen.Stdin()
	if err != nil {
		return nil, nil, err
	}
	if l == nil {
		return nil, nil, errors.New("no -listen, and neither systemd (LISTEN_FDS) nor file descriptor 0 passed a listening socket")
	}
	return []net.Listener{l}, []string{name}, nil
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// adoptHandover claims the sockets of a hand-over when this process's
// parent is the process CGIREF_LISTEN_PARENT names: it sets LISTEN_PID to
// this process's id (for listen.Systemd) and returns the pipe to report
// readiness on. It returns nil, nil when this process was not started by a
// hand-over. Both variables are unset in any case.
func adoptHandover() (*os.File, error) {
	ppid, set := os.LookupEnv(envListenParent)
	fdText := os.Getenv(envReadyFD)
	os.Unsetenv(envListenParent)
	os.Unsetenv(envReadyFD)
	if !set || ppid != strconv.Itoa(os.Getppid()) {
		return nil, nil
	}
	fd, err := strconv.Atoi(fdText)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("hand-over: %s=%q is not a descriptor", envReadyFD, fdText)
	}
	syscall.CloseOnExec(fd)
	if err := os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid())); err != nil {
		return nil, fmt.Errorf("hand-over: %w", err)
	}
	return os.NewFile(uintptr(fd), "handover-ready"), nil
}

// ownedSockets records the unix socket files among addrs as they are now.
func ownedSockets(addrs []string) []ownedFile {
	var out []ownedFile
	for _, a := range addrs {
		if p, ok := strings.CutPrefix(a, listen.UnixPrefix); ok {
			if fi, err := os.Lstat(p); err == nil && fi.Mode().Type() == fs.ModeSocket {
				out = append(out, ownedFile{p, fi})
			}
		}
	}
	return out
}

// ready is called once the server serves and watches its signals: it
// writes the pid file, tells the service manager (with MAINPID when this
// process took over from another), and tells a hand-over's parent.
func (h *handover) ready(status string) {
	if err := writePIDFile(h.pidFile); err != nil {
		h.log.Error("pid file", "err", err)
	}
	state := "READY=1"
	if h.parent != nil {
		// The service manager follows the new main process (it needs
		// NotifyAccess=all to take this from a process it did not start).
		state = "MAINPID=" + strconv.Itoa(os.Getpid()) + "\n" + state
	}
	if _, err := listen.Notify(state + "\nSTATUS=" + status); err != nil {
		h.log.Warn("sd_notify READY", "err", err)
	}
	if h.parent != nil {
		_, err := h.parent.WriteString("READY=1\n")
		h.parent.Close()
		h.parent = nil
		if err != nil {
			h.log.Error("hand-over: telling the parent", "err", err)
		}
	}
}

// stopping tells the service manager that the service stops, unless the
// service goes on in the process the sockets were handed to.
func (h *handover) stopping() {
	if !h.handedOff.Load() {
		notifyStopping(h.log)
	}
}

// finish runs when the server has stopped: unless the sockets were handed
// over, it removes the pid file and the unix socket files this process
// took over, each only while it is still this process's.
func (h *handover) finish() {
	if h.handedOff.Load() {
		return
	}
	removePIDFile(h.pidFile)
	for _, o := range h.owned {
		if fi, err := os.Lstat(o.path); err == nil && os.SameFile(fi, o.fi) {
			os.Remove(o.path)
		}
	}
}

// restart starts the new process with the listening sockets and waits
// until it reports ready; then this process's listeners stop accepting.
// When it fails, the new process is killed and this one serves on. ctx
// cancels the wait.
func (h *handover) restart(ctx context.Context) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("hand-over: %w", err)
	}
	files := make([]*os.File, 0, len(h.ls)+1)
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, l := range h.ls {
		f, err := l.file()
		if err != nil {
			return fmt.Errorf("hand-over: %w", err)
		}
		files = append(files, f)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("hand-over: %w", err)
	}
	defer r.Close()
	files = append(files, w)

	cmd := exec.Command(exe, h.command...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = files
	cmd.Env = append(handoverEnv(os.Environ()),
		"LISTEN_FDS="+strconv.Itoa(len(h.ls)),
		"LISTEN_FDNAMES="+strings.Join(h.names, ":"),
		envListenParent+"="+strconv.Itoa(os.Getpid()),
		envReadyFD+"="+strconv.Itoa(3+len(h.ls)))
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("hand-over: starting %s: %w", exe, err)
	}
	for _, f := range files {
		f.Close()
	}
	files = nil
	h.log.Info("hand-over: started the new process", "pid", cmd.Process.Pid, "exe", exe)

	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		if line == "READY=1\n" {
			ready <- nil
			return
		}
		ready <- fmt.Errorf("the new process exited or closed its pipe before it was ready (%v)", err)
	}()
	timer := time.NewTimer(handoverTimeout)
	defer timer.Stop()
	select {
	case err = <-ready:
	case <-timer.C:
		err = fmt.Errorf("the new process was not ready within %v", handoverTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("hand-over to pid %d: %w", cmd.Process.Pid, err)
	}
	// The child outlives this process; nobody waits for it here.
	go cmd.Wait()
	h.childPID.Store(int64(cmd.Process.Pid))
	h.handedOff.Store(true)
	return h.drain(ctx)
}

// handoverEnv returns env without the variables a hand-over sets.
func handoverEnv(env []string) []string {
	out := make([]string, 0, len(env)+5)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PID", envListenParent, envReadyFD:
			continue
		}
		out = append(out, kv)
	}
	return out
}

// drain stops every listener from accepting, waits until each connection
// it accepted is in the server's hands, so that the server's Shutdown,
// which comes next, finds none half-accepted, then waits handoverSettle.
func (h *handover) drain(ctx context.Context) error {
	for _, l := range h.ls {
		l.drain()
	}
	for _, l := range h.ls {
		select {
		case <-l.parked:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	t := time.NewTimer(handoverSettle)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handoverListener is a listener fcgi or scgi serves that can be drained
// for a hand-over: its socket is closed in this process only (the socket
// file stays, the new process holds the socket), and its Accept then
// waits for the server's own Close instead of failing, which tells
// drain that the server loop holds no accepted connection any more.
type handoverListener struct {
	net.Listener
	draining  atomic.Bool
	parked    chan struct{} // closed when Accept waits after a drain
	park      sync.Once
	closed    chan struct{} // closed by Close
	closeOnce sync.Once
	closeErr  error
}

func newHandoverListener(l net.Listener) *handoverListener {
	return &handoverListener{Listener: l, parked: make(chan struct{}), closed: make(chan struct{})}
}

// Accept accepts the next connection. Once the listener is drained, it
// waits for Close and then returns net.ErrClosed.
func (l *handoverListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil || !l.draining.Load() {
		return c, err
	}
	l.park.Do(func() { close(l.parked) })
	<-l.closed
	return nil, net.ErrClosed
}

// drain closes this process's descriptor of the socket, keeping its file.
func (l *handoverListener) drain() {
	l.draining.Store(true)
	var err error
	if u, ok := l.Listener.(*listen.UnixListener); ok {
		err = u.UnixListener.Close() // does not unlink
	} else {
		err = l.Listener.Close()
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		l.park.Do(func() { close(l.parked) })
	}
}

// Close closes the listener; a drained one keeps its socket file.
func (l *handoverListener) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		if l.draining.Load() {
			return
		}
		l.closeErr = l.Listener.Close()
	})
	return l.closeErr
}

// file returns a new descriptor of the listening socket, for the new
// process. It is made with fcntl(F_DUPFD_CLOEXEC), not the listener's File
// method: File's descriptor goes to blocking mode when exec passes it on,
// and the mode belongs to the socket, shared with this process's own
// descriptor, whose Accept would then block in the kernel where Close
// cannot end it.
func (l *handoverListener) file() (*os.File, error) {
	inner := l.Listener
	if u, ok := inner.(*listen.UnixListener); ok {
		inner = u.UnixListener
	}
	sc, ok := inner.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("a %T cannot be handed over", inner)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	dup := -1
	cerr := raw.Control(func(fd uintptr) {
		dup, err = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	})
	if cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, fmt.Errorf("duplicating the socket: %w", err)
	}
	return os.NewFile(uintptr(dup), "listener"), nil
}
