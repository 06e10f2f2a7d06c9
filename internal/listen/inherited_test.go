//go:build unix

package listen

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test binary plays the child process that inherits sockets when
// helperEnv is set: it sets LISTEN_PID to its own process id when asked
// (what systemd does between fork and exec), calls Inherited, reports what
// it found on stdout, then answers one connection on each listener with
// the listener's index.
const helperEnv = "CGIREF_LISTEN_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(m.Run())
}

func helper(mode string) int {
	if mode == "own-pid" {
		os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	}
	ls, names, err := Systemd()
	if err == nil && len(ls) == 0 {
		ls, err = Inherited()
	}
	if err != nil {
		fmt.Printf("error %v\n", err)
		return 1
	}
	for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if _, ok := os.LookupEnv(v); ok {
			fmt.Printf("still-set %s\n", v)
		}
	}
	fmt.Printf("listeners %d names %s stdin-listener %v\n", len(ls), strings.Join(names, ","), StdinIsListener())
	os.Stdout.Sync()
	for i, l := range ls {
		c, err := l.Accept()
		if err != nil {
			fmt.Printf("accept %v\n", err)
			return 1
		}
		fmt.Fprintf(c, "%d", i)
		c.Close()
		l.Close()
	}
	return 0
}

// runHelper starts the helper with files as its descriptors 3... (and stdin
// as descriptor 0 when not nil), and returns its first line of output.
func runHelper(t *testing.T, mode string, env []string, stdin *os.File, files ...*os.File) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append(env, helperEnv+"="+mode)...)
	cmd.ExtraFiles = files
	if stdin != nil {
		cmd.Stdin = stdin
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
		io.Copy(io.Discard, out)
	}()
	select {
	case s := <-line:
		return cmd, s
	case <-time.After(30 * time.Second):
		t.Fatal("the helper said nothing")
		return nil, ""
	}
}

// tcpListeners returns n loopback listeners and their files.
func tcpListeners(t *testing.T, n int) ([]net.Listener, []*os.File) {
	t.Helper()
	var ls []net.Listener
	var files []*os.File
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f, err := l.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close(); f.Close() })
		ls = append(ls, l)
		files = append(files, f)
	}
	return ls, files
}

// wantAnswers dials each listener and expects its index back.
func wantAnswers(t *testing.T, ls []net.Listener) {
	t.Helper()
	for i, l := range ls {
		c, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(b) != strconv.Itoa(i) {
			t.Errorf("listener %d answered %q, %v", i, b, err)
		}
	}
}

func TestSystemdActivation(t *testing.T) {
	ls, files := tcpListeners(t, 2)
	env := []string{"LISTEN_FDS=2", "LISTEN_FDNAMES=web:admin"}
	_, line := runHelper(t, "own-pid", env, nil, files...)
	if want := "listeners 2 names web,admin stdin-listener false"; line != want {
		t.Fatalf("helper: %q, want %q", line, want)
	}
	wantAnswers(t, ls)
}

func TestSystemdDefaultNames(t *testing.T) {
	ls, files := tcpListeners(t, 1)
	_, line := runHelper(t, "own-pid", []string{"LISTEN_FDS=1"}, nil, files...)
	if want := "listeners 1 names LISTEN_FD_3 stdin-listener false"; line != want {
		t.Fatalf("helper: %q, want %q", line, want)
	}
	wantAnswers(t, ls)
}

// LISTEN_PID of another process: the sockets are not ours, but the
// variables are gone all the same.
func TestSystemdOtherPID(t *testing.T) {
	_, files := tcpListeners(t, 1)
	env := []string{"LISTEN_FDS=1", "LISTEN_PID=1"}
	_, line := runHelper(t, "keep-pid", env, nil, files...)
	if want := "listeners 0 names  stdin-listener false"; line != want {
		t.Fatalf("helper: %q, want %q", line, want)
	}
}

// A descriptor that is not a listening socket is an error.
func TestSystemdNotAListener(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	_, line := runHelper(t, "own-pid", []string{"LISTEN_FDS=1"}, nil, r)
	if !strings.HasPrefix(line, "error ") {
		t.Fatalf("helper: %q, want an error", line)
	}
}

// The fd-0 convention: a listening socket as standard input.
func TestStdinListener(t *testing.T) {
	ls, files := tcpListeners(t, 1)
	_, line := runHelper(t, "keep-pid", nil, files[0])
	// After Inherited took it, descriptor 0 is the null device.
	if want := "listeners 1 names  stdin-listener false"; line != want {
		t.Fatalf("helper: %q, want %q", line, want)
	}
	wantAnswers(t, ls)
}

// systemd's sockets win over descriptor 0.
func TestSystemdBeforeStdin(t *testing.T) {
	ls, files := tcpListeners(t, 2)
	_, line := runHelper(t, "own-pid", []string{"LISTEN_FDS=1", "LISTEN_FDNAMES=web"}, files[1], files[0])
	if want := "listeners 1 names web stdin-listener true"; line != want {
		t.Fatalf("helper: %q, want %q", line, want)
	}
	wantAnswers(t, ls[:1])
}

func TestNothingInherited(t *testing.T) {
	_, line := runHelper(t, "keep-pid", nil, nil)
	if want := "listeners 0 names  stdin-listener false"; line != want {
		t.Fatalf("helper: %q, want %q", line, want)
	}
}
