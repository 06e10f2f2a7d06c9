//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/yookoala/gofast"
)

// unitData fills the systemd units of docs/conf.
type unitData struct {
	Addr    string // ListenStream
	Command string // ExecStart
}

// unitValue returns the value of the first "key=" line of a unit file.
func unitValue(t *testing.T, unit, key string) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(unit))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+"="); ok {
			return v
		}
	}
	t.Fatalf("no %s= in the unit", key)
	return ""
}

// renderUnit renders docs/conf/name with d.
func renderUnit(t *testing.T, name string, d unitData) string {
	t.Helper()
	tp, err := template.New(name).Option("missingkey=error").ParseFiles(filepath.Join(confDir, name))
	mustDo(t, err)
	var b bytes.Buffer
	mustDo(t, tp.Execute(&b, d))
	return b.String()
}

// notifications receives sd_notify datagrams on a socket in dir.
func notifications(t *testing.T, dir string) (string, <-chan string) {
	t.Helper()
	name := filepath.Join(dir, "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	mustDo(t, err)
	t.Cleanup(func() { c.Close() })
	ch := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				close(ch)
				return
			}
			ch <- string(buf[:n])
		}
	}()
	return name, ch
}

// waitReady waits for a READY=1 notification and returns the pid in its
// status.
func waitReadyPID(t *testing.T, ch <-chan string) int {
	t.Helper()
	timeout := time.After(startLimit)
	for {
		select {
		case m := <-ch:
			if !strings.HasPrefix(m, "READY=1\nSTATUS=pid ") {
				continue
			}
			pid, err := strconv.Atoi(strings.TrimPrefix(m, "READY=1\nSTATUS=pid "))
			mustDo(t, err)
			return pid
		case <-timeout:
			t.Fatal("no READY=1 from the service")
		}
	}
}

// fcgiGet sends one FastCGI GET to addr and returns the body.
func fcgiGet(addr string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return "", err
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	client, err := gofast.SimpleClientFactory(func() (net.Conn, error) { return conn, nil })()
	if err != nil {
		return "", err
	}
	defer client.Close()
	req := gofast.NewRequest(nil)
	for k, v := range map[string]string{"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/", "REQUEST_URI": "/",
		"SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "localhost", "SERVER_PORT": "80", "GATEWAY_INTERFACE": "CGI/1.1"} {
		req.Params[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	rec := httptest.NewRecorder()
	var errOut bytes.Buffer
	if err := resp.WriteTo(rec, &errOut); err != nil {
		return "", err
	}
	if rec.Code != 200 || !strings.HasPrefix(rec.Body.String(), "pid ") {
		return "", fmt.Errorf("answer %d %q %q", rec.Code, rec.Body.String(), errOut.String())
	}
	return rec.Body.String(), nil
}

// TestSocketActivation runs the service of docs/conf/cgiref.service on the
// socket of docs/conf/cgiref.socket under Debian's systemd-socket-activate,
// with a restart loop in the place of systemd's Restart=always, and
// restarts it three times with SIGTERM under steady load: no request may
// fail, and each restart brings a new process on the same socket.
func TestSocketActivation(t *testing.T) {
	activate, err := lookPath("systemd-socket-activate")
	if err != nil {
		t.Fatal("systemd-socket-activate is not installed (scripts/integration.sh installs the systemd package)")
	}
	dir := t.TempDir()
	helper := filepath.Join(dir, "activated")
	build := exec.Command("go", "build", "-tags", "integration", "-o", helper, "./integration/activated")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the service: %v\n%s", err, out)
	}
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	d := unitData{Addr: addr, Command: helper}
	socket := renderUnit(t, "cgiref.socket", d)
	service := renderUnit(t, "cgiref.service", d)
	listenOn, fdName, command := unitValue(t, socket, "ListenStream"), unitValue(t, socket, "FileDescriptorName"), unitValue(t, service, "ExecStart")
	if unitValue(t, service, "Type") != "notify" {
		t.Fatal("the service unit is not Type=notify")
	}

	notify, events := notifications(t, dir)
	// systemd-socket-activate holds the socket and execs the loop, which
	// starts the service again whenever it exits, each time with
	// LISTEN_PID set to the service's own process id, as systemd does.
	loop := `while :; do sh -c 'LISTEN_PID=$$; export LISTEN_PID; exec ` + command + `'; sleep 0.05; done`
	s := newServer(t, "systemd-socket-activate", &confData{Dir: dir})
	p := startProc(t, "systemd-socket-activate", s.addLog("activate.log"), nil,
		activate, "-l", listenOn, "--fdname="+fdName, "-E", "NOTIFY_SOCKET="+notify, "-E", "PATH="+os.Getenv("PATH"),
		"/bin/sh", "-c", loop)
	// systemd-socket-activate starts the service with the first
	// connection.
	p.waitReady(t, "tcp", addr)
	pid := waitReadyPID(t, events)

	const (
		total    = 3000
		workers  = 4
		restarts = 3
	)
	var sent, failed atomic.Int64
	var mu sync.Mutex
	seen := map[string]int{}
	var firstErr atomic.Value
	deadline := time.Now().Add(2 * time.Minute)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for sent.Add(1) <= total && time.Now().Before(deadline) {
				body, err := fcgiGet(addr)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				mu.Lock()
				seen[body]++
				mu.Unlock()
			}
		})
	}
	pids := []int{pid}
	for i := range restarts {
		for sent.Load() < int64((i+1)*total/(restarts+1)) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		mustDo(t, syscall.Kill(pid, syscall.SIGTERM))
		pid = waitReadyPID(t, events)
		pids = append(pids, pid)
	}
	wg.Wait()
	done := min(sent.Load(), total)
	t.Logf("requests %d, failed %d, restarts %d, answers per process %v", done, failed.Load(), restarts, seen)
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed across %d restarts; first: %v", failed.Load(), done, restarts, firstErr.Load())
	}
	if done < total {
		t.Errorf("only %d of %d requests were sent before the deadline", done, total)
	}
	for _, pid := range pids {
		if seen["pid "+strconv.Itoa(pid)] == 0 {
			t.Errorf("process %d (of %v) answered nothing", pid, pids)
		}
	}
}
