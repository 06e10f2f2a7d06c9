package fcgi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/cgiref/cgiref/internal/wine"
)

// pipeApp answers /echo with the request body and everything else with
// Hello.
var pipeApp = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/echo" {
		echo(w, r)
		return
	}
	hello(w, r)
})

// inheritable is the security attributes of an inheritable handle.
func inheritable() *windows.SecurityAttributes {
	return &windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), InheritHandle: 1}
}

// newPipe creates one synchronous, byte-mode named pipe server instance, as
// IIS's FastCgiModule does.
func newPipe(t testing.TB, name string, sa *windows.SecurityAttributes) windows.Handle {
	t.Helper()
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		t.Fatal(err)
	}
	h, err := windows.CreateNamedPipe(p, windows.PIPE_ACCESS_DUPLEX,
		windows.PIPE_TYPE_BYTE|windows.PIPE_READMODE_BYTE|windows.PIPE_WAIT, 1, 64<<10, 64<<10, 0, sa)
	if err != nil {
		t.Fatalf("CreateNamedPipe %s: %v", name, err)
	}
	return h
}

// dialPipe connects to the pipe as the web server does, retrying while the
// instance is busy or not yet listening again.
func dialPipe(t testing.TB, name string) *client {
	t.Helper()
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(testTimeout)
	for {
		h, err := windows.CreateFile(p, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, nil, windows.OPEN_EXISTING, 0, 0)
		if err == nil {
			conn := &fileConn{File: os.NewFile(uintptr(h), name), local: pipeAddr(name), remote: pipeAddr(name)}
			t.Cleanup(func() { conn.Close() })
			return &client{t: t, conn: conn, rr: newRecordReader(bufio.NewReader(conn), nil)}
		}
		if time.Now().After(deadline) {
			t.Fatalf("connecting to %s: %v", name, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// expectDisconnected checks that the server ended the connection.
func (c *client) expectDisconnected() {
	c.t.Helper()
	_, err := c.rr.next()
	if !errors.Is(err, io.EOF) && !pipeGone(err) {
		c.t.Fatalf("after the last request: %v, want the pipe disconnected", err)
	}
}

// TestServeNamedPipe runs this test binary as IIS's FastCgiModule and
// mod_fcgid run a FastCGI application on Windows: a synchronous named pipe
// server instance as the standard input handle, its name in _FCGI_X_PIPE_,
// and an inheritable event in _FCGI_SHUTDOWN_EVENT_. The child serves with
// Serve(nil, ...).
func TestServeNamedPipe(t *testing.T) {
	if os.Getenv("CGIREF_FCGI_CHILD") == "pipe" {
		if !StdinIsListener() {
			fmt.Fprintln(os.Stderr, "child: stdin is not a listener")
			os.Exit(3)
		}
		if err := Serve(nil, pipeApp); !errors.Is(err, ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "child: Serve:", err)
			os.Exit(4)
		}
		os.Exit(0)
	}
	if StdinIsListener() {
		t.Error("the test's own standard input reported as a listener")
	}
	name := fmt.Sprintf(`\\.\pipe\cgiref-fcgi-test-%d`, os.Getpid())
	h := newPipe(t, name, inheritable())
	stdin := os.NewFile(uintptr(h), name)
	ev, err := windows.CreateEvent(inheritable(), 1, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer windows.CloseHandle(ev)

	cmd := exec.Command(os.Args[0], "-test.run=^TestServeNamedPipe$")
	cmd.Env = append(os.Environ(), "CGIREF_FCGI_CHILD=pipe", "_FCGI_X_PIPE_="+name,
		"_FCGI_SHUTDOWN_EVENT_="+strconv.FormatUint(uint64(ev), 10))
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{AdditionalInheritedHandles: []syscall.Handle{syscall.Handle(ev)}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdin.Close() // the instance lives on in the child
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("child's stderr:\n%s", stderr.String())
		}
	}()

	// mod_fcgid's way: a new connection per request, closed by the app.
	body := bytes.Repeat([]byte("0123456789abcdef"), 12<<10) // past the pipe's buffers
	for i := range 3 {
		c := dialPipe(t, name)
		if i == 1 {
			c.mustSend(requestBytes(1, roleResponder, 0, postEnv("/echo", len(body)), body))
			r := c.results(1)[1]
			if got := r.body(); got != string(body) {
				t.Errorf("connection %d: echo of %d bytes came back as %d bytes", i, len(body), len(got))
			}
		} else {
			c.mustSend(requestBytes(1, roleResponder, 0, getEnv("/one"), nil))
			r := c.results(1)[1]
			if !bytes.HasPrefix(r.stdout.Bytes(), []byte("Status: 200 OK\r\n")) || r.body() != "Hello" {
				t.Errorf("connection %d: answer %q", i, r.stdout.String())
			}
		}
		c.expectDisconnected()
		c.conn.Close()
	}

	// IIS's way: requests one after the other on a kept connection.
	c := dialPipe(t, name)
	for id := uint16(1); id <= 2; id++ {
		c.mustSend(requestBytes(id, roleResponder, flagKeepConn, getEnv("/kept"), nil))
		r := c.results(id)[id]
		if r.body() != "Hello" || r.end.protocolStatus != statusRequestComplete {
			t.Errorf("kept connection, request %d: answer %q, end %+v", id, r.stdout.String(), r.end)
		}
	}
	c.conn.Close()

	if err := windows.SetEvent(ev); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the deferred check
		if err != nil {
			t.Errorf("the child ended with %v after the shutdown event", err)
		}
	case <-time.After(time.Second): // a functional deadline: IIS kills it
		t.Error("the child did not exit within a second of the shutdown event")
	}
}

// TestPipeListenerClose checks that Close ends an Accept waiting for a
// client on a synchronous pipe.
func TestPipeListenerClose(t *testing.T) {
	name := fmt.Sprintf(`\\.\pipe\cgiref-fcgi-close-%d`, os.Getpid())
	h := newPipe(t, name, nil)
	defer windows.CloseHandle(h)
	l, err := newPipeListener(h, name)
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if c != nil {
			c.Close()
		}
		accepted <- err
	}()
	time.Sleep(50 * time.Millisecond) // let Accept block in ConnectNamedPipe
	l.Close()
	if err := waitFor(t, accepted, "Accept to return after Close"); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close = %v, want net.ErrClosed", err)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("a later Accept = %v, want net.ErrClosed", err)
	}
}

// TestPipeConnReadDeadline checks that a read deadline ends a read on an
// idle connection, and that the connection still reads afterwards.
func TestPipeConnReadDeadline(t *testing.T) {
	name := fmt.Sprintf(`\\.\pipe\cgiref-fcgi-deadline-%d`, os.Getpid())
	h := newPipe(t, name, nil)
	defer windows.CloseHandle(h)
	l, err := newPipeListener(h, name)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c := dialPipe(t, name)
	sc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	sc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	buf := make([]byte, 8)
	if _, err := sc.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read on an idle pipe = %v, want a timeout", err)
	}
	sc.SetReadDeadline(time.Time{})
	c.mustSend([]byte("ping"))
	if n, err := io.ReadFull(sc, buf[:4]); err != nil || string(buf[:n]) != "ping" {
		t.Errorf("read after the timeout = %q, %v", buf[:n], err)
	}
}

// TestServeStdinSocket runs this test binary the way IIS runs a FastCGI
// application with protocol="Tcp": a listening socket as the standard input
// handle.
func TestServeStdinSocket(t *testing.T) {
	if os.Getenv("CGIREF_FCGI_CHILD") == "socket" {
		if !StdinIsListener() {
			fmt.Fprintln(os.Stderr, "child: stdin is not a listener")
			os.Exit(3)
		}
		fmt.Println("ready")
		Serve(nil, pipeApp)
		os.Exit(0)
	}
	l := listen(t)
	defer l.Close()
	raw, err := l.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var dup windows.Handle
	cur := windows.CurrentProcess()
	if err := raw.Control(func(fd uintptr) {
		err = windows.DuplicateHandle(cur, windows.Handle(fd), cur, &dup, 0, true, windows.DUPLICATE_SAME_ACCESS)
	}); err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatalf("DuplicateHandle of the listening socket: %v", err)
	}
	stdin := os.NewFile(uintptr(dup), "listener")
	defer stdin.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeStdinSocket$")
	cmd.Env = append(os.Environ(), "CGIREF_FCGI_CHILD=socket")
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("child's stderr:\n%s", stderr.String())
		}
	}()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 3 {
			wine.SkipDuplicateSocket(t, errors.New("the socket handle the child inherited is not a socket there (WSAENOTSOCK)"))
		}
		t.Fatalf("the child is not serving: %q, %v", line, err)
	}
	for range 2 {
		c := dial(t, l.Addr().String())
		c.mustSend(requestBytes(1, roleResponder, 0, getEnv("/tcp"), nil))
		if r := c.results(1)[1]; r.body() != "Hello" {
			t.Errorf("answer %q", r.stdout.String())
		}
		c.expectClosed()
	}
}

// TestSocketListener checks Accept and the connection over a listening
// socket handle in this process.
func TestSocketListener(t *testing.T) {
	nl := listen(t)
	defer nl.Close()
	raw, err := nl.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var dup windows.Handle
	cur := windows.CurrentProcess()
	if err := raw.Control(func(fd uintptr) {
		err = windows.DuplicateHandle(cur, windows.Handle(fd), cur, &dup, 0, false, windows.DUPLICATE_SAME_ACCESS)
	}); err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatalf("DuplicateHandle of the listening socket: %v", err)
	}
	l := &socketListener{h: dup}
	defer l.Close()
	if a, ok := l.Addr().(*net.TCPAddr); !ok || a.Port != nl.Addr().(*net.TCPAddr).Port {
		t.Errorf("Addr = %v, want %v", l.Addr(), nl.Addr())
	}
	done := make(chan error, 1)
	go func() {
		s := &Server{Handler: pipeApp}
		done <- s.Serve(l)
	}()
	c := dial(t, nl.Addr().String())
	c.mustSend(requestBytes(1, roleResponder, 0, getEnv("/tcp"), nil))
	if r := c.results(1)[1]; r.body() != "Hello" {
		t.Errorf("answer %q", r.stdout.String())
	}
	c.expectClosed()
	l.Close()
	if err := waitFor(t, done, "Serve to return after Close"); err == nil {
		t.Error("Serve returned nil after its listener closed")
	}
}
