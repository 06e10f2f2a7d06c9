//go:build unix

package cgi

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childLimit bounds every wait for the child CGI program.
const childLimit = 20 * time.Second

// child is the test binary run as a CGI program (TestMain) for one GET.
type child struct {
	cmd    *exec.Cmd
	stdout io.ReadCloser
	br     *bufio.Reader
	stderr bytes.Buffer
	exited chan struct{}
}

// startChild runs the child for QUERY_STRING query with the grace period
// grace, and returns once its handler has flushed "started".
func startChild(t *testing.T, query, grace string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0]), exited: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), "CGIREF_TEST_CHILD=1", "CGIREF_TEST_GRACE="+grace,
		"GATEWAY_INTERFACE=CGI/1.1", "REQUEST_METHOD=GET", "SERVER_PROTOCOL=HTTP/1.1",
		"SERVER_NAME=localhost", "SERVER_PORT=80", "SCRIPT_NAME=/prog", "QUERY_STRING="+query)
	c.cmd.Stderr = &c.stderr
	var err error
	if c.stdout, err = c.cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.exited
	})
	c.br = bufio.NewReader(c.stdout)
	got := make(chan error, 1)
	go func() {
		var line string
		var err error
		for err == nil && line != "started\n" {
			line, err = c.br.ReadString('\n')
		}
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("the child did not begin its answer: %v", err)
		}
	case <-time.After(childLimit):
		t.Fatal("the child did not begin its answer in time")
	}
	return c
}

// wait waits for the child's exit (reading its standard output unless
// drain is false) and returns its exit status and standard error.
func (c *child) wait(t *testing.T, drain bool) (int, string) {
	t.Helper()
	if drain {
		go io.Copy(io.Discard, c.br)
	}
	select {
	case <-c.exited:
	case <-time.After(childLimit):
		t.Fatalf("the child still runs %v later", childLimit)
	}
	return c.cmd.ProcessState.ExitCode(), c.stderr.String()
}

// TestStopSignals: a signal from the web server cancels the request's
// context, the handler returns within its grace period, and the program
// exits non-zero (its answer may be cut).
func TestStopSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			c := startChild(t, "do=wait", "")
			if err := c.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			code, stderr := c.wait(t, true)
			want := "child: context done: cgi: stopped by the web server: signal " + sig.String()
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr %q, want %q", stderr, want)
			}
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
		})
	}
}

// TestStopGraceExpires: a handler that ignores its context is left behind
// when the grace period has passed, and the program exits.
func TestStopGraceExpires(t *testing.T) {
	c := startChild(t, "do=ignore", "200ms")
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, stderr := c.wait(t, true)
	if code != 1 || !strings.Contains(stderr, "the handler did not return within its grace period of 200ms") {
		t.Errorf("exit status %d, stderr %q", code, stderr)
	}
}

// TestStopStdoutClosed: the web server closing its end of standard output
// (lighttpd and Apache do when the client goes away) cancels the request's
// context although the handler writes nothing; the write the handler then
// makes fails instead of killing the program with SIGPIPE.
func TestStopStdoutClosed(t *testing.T) {
	c := startChild(t, "do=wait", "")
	c.stdout.Close()
	code, stderr := c.wait(t, false)
	if !strings.Contains(stderr, "child: context done: cgi: stopped by the web server: standard output closed") {
		t.Errorf("stderr %q", stderr)
	}
	if code != 1 {
		t.Errorf("exit status %d, want 1 (a SIGPIPE death is -1)", code)
	}
}

// TestServeWhole: without a stop, the answer is whole and Serve returns nil.
func TestServeWhole(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "CGIREF_TEST_CHILD=1", "GATEWAY_INTERFACE=CGI/1.1", "REQUEST_METHOD=GET",
		"SERVER_NAME=localhost", "SERVER_PORT=80", "SCRIPT_NAME=/prog", "QUERY_STRING=")
	out, err := cmd.Output()
	if err != nil || !bytes.HasPrefix(out, []byte("Status: 200 OK\r\n")) {
		t.Errorf("exit %v, output %q", err, out)
	}
}
