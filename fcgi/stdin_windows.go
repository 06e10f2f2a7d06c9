package fcgi

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// On Windows a web server that spawns a FastCGI application (IIS's
// FastCgiModule, Apache mod_fcgid) hands it the listener as the standard
// input handle (GetStdHandle(STD_INPUT_HANDLE), not handle 0):
//
//   - with IIS's default protocol="NamedPipe", and with mod_fcgid, a named
//     pipe server instance whose name is in _FCGI_X_PIPE_. The application
//     connects it (ConnectNamedPipe), serves one connection, flushes and
//     disconnects it, and connects again: one connection at a time.
//   - with IIS's protocol="Tcp", a listening socket.
//
// When _FCGI_SHUTDOWN_EVENT_ holds an event handle, the web server signals
// it before it terminates the process.

var (
	kernel32          = windows.NewLazySystemDLL("kernel32.dll")
	procPeekNamedPipe = kernel32.NewProc("PeekNamedPipe")
	ws2_32            = windows.NewLazySystemDLL("ws2_32.dll")
	procAccept        = ws2_32.NewProc("accept")
)

// soAcceptConn is Winsock's SO_ACCEPTCONN, which x/sys/windows lacks.
const soAcceptConn = 0x0002

// stdinKind is what the standard input handle is.
type stdinKind int

const (
	stdinOther  stdinKind = iota
	stdinPipe             // a named pipe server instance
	stdinSocket           // a listening socket
)

// classifyStdin looks at the standard input handle.
func classifyStdin() (windows.Handle, stdinKind) {
	h, err := windows.GetStdHandle(windows.STD_INPUT_HANDLE)
	if err != nil || h == 0 || h == windows.InvalidHandle {
		return 0, stdinOther
	}
	if t, err := windows.GetFileType(h); err != nil || t != windows.FILE_TYPE_PIPE {
		return h, stdinOther // sockets and pipes are both FILE_TYPE_PIPE
	}
	var flags uint32
	if windows.GetNamedPipeInfo(h, &flags, nil, nil, nil) == nil {
		// The read end of an anonymous pipe, a CGI script's stdin, is a
		// server end too: only IIS's and mod_fcgid's marks make it a
		// listener.
		if flags&windows.PIPE_SERVER_END != 0 && (os.Getenv("_FCGI_X_PIPE_") != "" || noStdout()) {
			return h, stdinPipe
		}
		return h, stdinOther
	}
	if v, err := windows.GetsockoptInt(h, windows.SOL_SOCKET, soAcceptConn); err == nil && v != 0 {
		return h, stdinSocket
	}
	return h, stdinOther
}

// noStdout reports whether the process has no standard output, as IIS
// starts a FastCGI application (PHP's FastCGI SAPI checks the same).
func noStdout() bool {
	h, err := windows.GetStdHandle(windows.STD_OUTPUT_HANDLE)
	return err != nil || h == 0 || h == windows.InvalidHandle
}

// StdinIsListener reports whether the standard input handle is what IIS's
// FastCgiModule or mod_fcgid hands a FastCGI application: a named pipe
// server instance (with _FCGI_X_PIPE_ set, or no standard output) or a
// listening socket. Then Serve with a nil listener serves it.
func StdinIsListener() bool {
	_, kind := classifyStdin()
	return kind != stdinOther
}

// stdinListener returns the listener on the standard input handle.
// inheritedListeners returns the listener on standard input.
func inheritedListeners() ([]net.Listener, error) {
	l, err := stdinListener()
	if err != nil {
		return nil, err
	}
	return []net.Listener{l}, nil
}

func stdinListener() (net.Listener, error) {
	h, kind := classifyStdin()
	switch kind {
	case stdinPipe:
		return newPipeListener(h, os.Getenv("_FCGI_X_PIPE_"))
	case stdinSocket:
		return &socketListener{h: h}, nil
	}
	return nil, errors.New("fcgi: standard input is neither a FastCGI named pipe nor a listening socket")
}

// watchShutdownEvent calls shutdown once the event whose handle number
// _FCGI_SHUTDOWN_EVENT_ holds is signalled. Without the variable it does
// nothing.
func watchShutdownEvent(shutdown func()) {
	v := os.Getenv("_FCGI_SHUTDOWN_EVENT_")
	if v == "" {
		return
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n == 0 {
		return
	}
	h := windows.Handle(n)
	go func() {
		if ev, err := windows.WaitForSingleObject(h, windows.INFINITE); err == nil && ev == windows.WAIT_OBJECT_0 {
			shutdown()
		}
	}()
}

// pipeAddr is the address of a named pipe connection.
type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }

// pipeListener accepts connections on one named pipe server instance, one
// at a time: Accept waits until the previous connection is closed (flushed
// and disconnected) before it connects the instance again.
type pipeListener struct {
	h       windows.Handle
	name    string
	closeEv windows.Handle // set by Close, to end an overlapped connect
	free    chan struct{}  // holds a token while no connection is open
	closed  chan struct{}
	once    sync.Once

	connecting atomic.Bool
}

func newPipeListener(h windows.Handle, name string) (*pipeListener, error) {
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return nil, fmt.Errorf("fcgi: named pipe listener: %w", err)
	}
	if name == "" {
		name = `\\.\pipe\(stdin)`
	}
	l := &pipeListener{h: h, name: name, closeEv: ev, free: make(chan struct{}, 1), closed: make(chan struct{})}
	l.free <- struct{}{}
	return l, nil
}

// Accept waits for the web server to connect to the pipe.
func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case <-l.free:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	if err := l.connect(); err != nil {
		l.free <- struct{}{}
		select {
		case <-l.closed:
			return nil, net.ErrClosed
		default:
		}
		return nil, &net.OpError{Op: "accept", Net: "pipe", Addr: l.Addr(), Err: os.NewSyscallError("ConnectNamedPipe", err)}
	}
	select {
	case <-l.closed:
		windows.DisconnectNamedPipe(l.h)
		l.free <- struct{}{}
		return nil, net.ErrClosed
	default:
	}
	return &pipeConn{l: l, h: l.h, closed: make(chan struct{})}, nil
}

// connect connects the instance to the next client. On a synchronous
// handle (IIS's) the call blocks; Close then ends it by cancelling it and by
// connecting to the pipe itself.
func (l *pipeListener) connect() error {
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return err
	}
	defer windows.CloseHandle(ev)
	ov := &windows.Overlapped{HEvent: ev}
	l.connecting.Store(true)
	defer l.connecting.Store(false)
	err = windows.ConnectNamedPipe(l.h, ov)
	switch err {
	case nil, windows.ERROR_PIPE_CONNECTED:
		return nil
	case windows.ERROR_IO_PENDING:
	default:
		return err
	}
	w, err := windows.WaitForMultipleObjects([]windows.Handle{ev, l.closeEv}, false, windows.INFINITE)
	if err != nil {
		return err
	}
	if w != windows.WAIT_OBJECT_0 {
		windows.CancelIoEx(l.h, ov)
	}
	var n uint32
	return windows.GetOverlappedResult(l.h, ov, &n, true)
}

// Close stops Accept. The pipe handle, the process's standard input, stays
// open.
func (l *pipeListener) Close() error {
	l.once.Do(func() {
		close(l.closed)
		windows.SetEvent(l.closeEv)
		if l.connecting.Load() {
			windows.CancelIoEx(l.h, nil)
			// A synchronous ConnectNamedPipe may not be cancellable: be its
			// client for a moment.
			if p, err := windows.UTF16PtrFromString(l.name); err == nil {
				if c, err := windows.CreateFile(p, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, nil, windows.OPEN_EXISTING, 0, 0); err == nil {
					windows.CloseHandle(c)
				}
			}
		}
	})
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr(l.name) }

// Polling bounds of pipeConn.Read.
const (
	minPollDelay = 100 * time.Microsecond
	maxPollDelay = 10 * time.Millisecond
)

// pipeConn is the one open connection of a pipeListener. Reads poll the
// pipe with PeekNamedPipe and read only what is there, so no read is ever
// pending: on a synchronous handle (IIS's) a pending read would hold every
// write back until it completes. Close flushes and disconnects the pipe so
// that the listener can connect it again.
type pipeConn struct {
	l      *pipeListener
	h      windows.Handle
	rmu    sync.Mutex
	wmu    sync.Mutex
	closed chan struct{}
	once   sync.Once

	dmu       sync.Mutex
	rdeadline time.Time
	wdeadline time.Time
}

func (c *pipeConn) readDeadline() time.Time {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	return c.rdeadline
}

func (c *pipeConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	delay := minPollDelay
	for {
		select {
		case <-c.closed:
			return 0, c.opError("read", net.ErrClosed)
		default:
		}
		avail, err := c.peek()
		if err != nil {
			if pipeGone(err) {
				return 0, io.EOF
			}
			return 0, c.opError("read", os.NewSyscallError("PeekNamedPipe", err))
		}
		if avail > 0 {
			n, err := c.do(func(ov *windows.Overlapped, n *uint32) error {
				return windows.ReadFile(c.h, p[:min(len(p), int(avail))], n, ov)
			}, time.Time{})
			if err != nil {
				if pipeGone(err) {
					return 0, io.EOF
				}
				return n, c.opError("read", os.NewSyscallError("ReadFile", err))
			}
			return n, nil
		}
		if d := c.readDeadline(); !d.IsZero() && !time.Now().Before(d) {
			return 0, c.opError("read", os.ErrDeadlineExceeded)
		}
		time.Sleep(delay)
		delay = min(2*delay, maxPollDelay)
	}
}

// peek returns how many bytes the pipe holds.
func (c *pipeConn) peek() (uint32, error) {
	var avail uint32
	r, _, err := procPeekNamedPipe.Call(uintptr(c.h), 0, 0, 0, uintptr(unsafe.Pointer(&avail)), 0)
	if r == 0 {
		return 0, err
	}
	return avail, nil
}

func (c *pipeConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	written := 0
	for written < len(p) {
		select {
		case <-c.closed:
			return written, c.opError("write", net.ErrClosed)
		default:
		}
		c.dmu.Lock()
		d := c.wdeadline
		c.dmu.Unlock()
		if !d.IsZero() && !time.Now().Before(d) {
			return written, c.opError("write", os.ErrDeadlineExceeded)
		}
		n, err := c.do(func(ov *windows.Overlapped, n *uint32) error {
			return windows.WriteFile(c.h, p[written:], n, ov)
		}, d)
		written += n
		if err != nil {
			if err == windows.ERROR_OPERATION_ABORTED && !d.IsZero() {
				err = os.ErrDeadlineExceeded
			} else {
				err = os.NewSyscallError("WriteFile", err)
			}
			return written, c.opError("write", err)
		}
	}
	return written, nil
}

// do runs one I/O call with an OVERLAPPED structure, which a synchronous
// handle ignores and an overlapped one needs, and waits for it. A deadline
// cancels it.
func (c *pipeConn) do(call func(*windows.Overlapped, *uint32) error, deadline time.Time) (int, error) {
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return 0, err
	}
	defer windows.CloseHandle(ev)
	ov := &windows.Overlapped{HEvent: ev}
	var n uint32
	if !deadline.IsZero() {
		t := time.AfterFunc(time.Until(deadline), func() { windows.CancelIoEx(c.h, ov) })
		defer t.Stop()
	}
	err = call(ov, &n)
	if err == windows.ERROR_IO_PENDING {
		err = windows.GetOverlappedResult(c.h, ov, &n, true)
	}
	return int(n), err
}

// Close flushes what the web server has not read yet, disconnects the pipe
// and lets the listener accept the next connection.
func (c *pipeConn) Close() error {
	var err error
	c.once.Do(func() {
		close(c.closed)
		c.rmu.Lock() // no read in the middle of the disconnect
		defer c.rmu.Unlock()
		c.wmu.Lock()
		defer c.wmu.Unlock()
		if e := windows.FlushFileBuffers(c.h); e != nil && !pipeGone(e) {
			err = os.NewSyscallError("FlushFileBuffers", e)
		}
		if e := windows.DisconnectNamedPipe(c.h); e != nil && err == nil {
			err = os.NewSyscallError("DisconnectNamedPipe", e)
		}
		c.l.free <- struct{}{}
	})
	if err != nil {
		return c.opError("close", err)
	}
	return nil
}

func (c *pipeConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "pipe", Addr: c.l.Addr(), Err: err}
}

func (c *pipeConn) LocalAddr() net.Addr  { return c.l.Addr() }
func (c *pipeConn) RemoteAddr() net.Addr { return c.l.Addr() }

func (c *pipeConn) SetDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.rdeadline, c.wdeadline = t, t
	return nil
}

func (c *pipeConn) SetReadDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.rdeadline = t
	return nil
}

func (c *pipeConn) SetWriteDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.wdeadline = t
	return nil
}

// pipeGone reports whether err says the other end of the pipe went away.
func pipeGone(err error) bool {
	return errors.Is(err, windows.ERROR_BROKEN_PIPE) ||
		errors.Is(err, windows.ERROR_PIPE_NOT_CONNECTED) ||
		errors.Is(err, windows.ERROR_NO_DATA)
}

// socketListener accepts connections on a listening socket handed over as
// standard input (IIS's protocol="Tcp"). Go's net package cannot adopt a
// socket on Windows (net.FileListener is not supported there), so Accept
// calls Winsock's accept on its own and the connection is an *os.File over
// the accepted socket.
type socketListener struct {
	h      windows.Handle
	closed atomic.Bool
	once   sync.Once
}

func (l *socketListener) Accept() (net.Conn, error) {
	r, _, err := procAccept.Call(uintptr(l.h), 0, 0)
	if windows.Handle(r) == windows.InvalidHandle {
		if l.closed.Load() {
			return nil, net.ErrClosed
		}
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept", err)}
	}
	s := windows.Handle(r)
	if l.closed.Load() {
		windows.Closesocket(s)
		return nil, net.ErrClosed
	}
	c := &fileConn{File: os.NewFile(uintptr(s), "fcgi connection"), local: sockAddr(windows.Getsockname(s))}
	c.remote = sockAddr(windows.Getpeername(s))
	return c, nil
}

func (l *socketListener) Close() error {
	var err error
	l.once.Do(func() {
		l.closed.Store(true)
		// Closing a socket does not end an accept blocked on it everywhere
		// (Wine): connect to it once to wake it up.
		if a, ok := l.Addr().(*net.TCPAddr); ok {
			switch {
			case a.IP.IsUnspecified() && a.IP.To4() != nil:
				a.IP = net.IPv4(127, 0, 0, 1)
			case a.IP.IsUnspecified():
				a.IP = net.IPv6loopback
			}
			if c, err := net.DialTimeout("tcp", a.String(), time.Second); err == nil {
				c.Close()
			}
		}
		err = windows.Closesocket(l.h)
	})
	return err
}

func (l *socketListener) Addr() net.Addr { return sockAddr(windows.Getsockname(l.h)) }

// sockAddr converts a Winsock address.
func sockAddr(sa windows.Sockaddr, err error) net.Addr {
	switch a := sa.(type) {
	case *windows.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *windows.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return pipeAddr("socket")
}

// fileConn is an accepted socket as a net.Conn. Deadlines the handle does
// not support are ignored.
type fileConn struct {
	*os.File
	local, remote net.Addr
}

func (c *fileConn) LocalAddr() net.Addr  { return c.local }
func (c *fileConn) RemoteAddr() net.Addr { return c.remote }

func (c *fileConn) SetDeadline(t time.Time) error {
	return ignoreNoDeadline(c.File.SetDeadline(t))
}

func (c *fileConn) SetReadDeadline(t time.Time) error {
	return ignoreNoDeadline(c.File.SetReadDeadline(t))
}

func (c *fileConn) SetWriteDeadline(t time.Time) error {
	return ignoreNoDeadline(c.File.SetWriteDeadline(t))
}

func ignoreNoDeadline(err error) error {
	if errors.Is(err, os.ErrNoDeadline) {
		return nil
	}
	return err
}
