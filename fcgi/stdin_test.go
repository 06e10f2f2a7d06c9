//go:build linux || darwin || freebsd || netbsd || openbsd

package fcgi

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
)

// TestServeStdinListener runs this test binary as a FastCGI application
// the way a web server spawns one: the listening socket on file descriptor
// 0. The child serves with Serve(nil, ...).
func TestServeStdinListener(t *testing.T) {
	if os.Getenv("CGIREF_FCGI_CHILD") == "1" {
		if !StdinIsListener() {
			fmt.Fprintln(os.Stderr, "stdin is not a listener")
			os.Exit(3)
		}
		Serve(nil, hello)
		os.Exit(0)
	}
	if StdinIsListener() {
		t.Error("the test's own stdin reported as a listening socket")
	}
	l := listen(t)
	defer l.Close()
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tt := range []struct {
		addrs string
		open  bool
	}{{"", true}, {"127.0.0.1,192.0.2.1", true}, {"192.0.2.1", false}} {
		t.Run("FCGI_WEB_SERVER_ADDRS="+tt.addrs, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestServeStdinListener$")
			cmd.Env = append(os.Environ(), "CGIREF_FCGI_CHILD=1", "FCGI_WEB_SERVER_ADDRS="+tt.addrs)
			cmd.Stdin = f
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				cmd.Process.Kill()
				cmd.Wait()
			}()
			c := dial(t, l.Addr().String())
			if tt.open {
				c.expectOpen(1)
			} else {
				c.send(requestBytes(1, roleResponder, flagKeepConn, getEnv("/"), nil))
				c.expectClosed()
			}
		})
	}
}

// TestServeNotAListener checks that Serve(nil, ...) fails at once when file
// descriptor 0 is a pipe, in a child process.
func TestServeNotAListener(t *testing.T) {
	if os.Getenv("CGIREF_FCGI_CHILD") == "pipe" {
		if StdinIsListener() {
			os.Exit(3)
		}
		if err := Serve(nil, hello); err == nil {
			os.Exit(4)
		}
		os.Exit(0)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeNotAListener$")
	cmd.Env = append(os.Environ(), "CGIREF_FCGI_CHILD=pipe")
	cmd.Stdin = r
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("child: %v %s", err, out)
	}
}
