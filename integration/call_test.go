//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// phpFPM finds Debian's php-fpm (php-fpmX.Y in /usr/sbin).
func phpFPM(t *testing.T) string {
	t.Helper()
	if p, err := lookPath("php-fpm"); err == nil {
		return p
	}
	matches, _ := filepath.Glob("/usr/sbin/php-fpm*")
	if len(matches) == 0 {
		t.Fatal("php-fpm is not installed (scripts/integration.sh installs the php-fpm package)")
	}
	return matches[len(matches)-1]
}

// The PHP script cgiref call asks php-fpm to run: a status and a field of
// the request's choosing, and the request's body and variables.
const phpScript = `<?php
http_response_code((int)($_GET['status'] ?? 200));
header('X-Php: ' . $_SERVER['REQUEST_METHOD']);
header('Content-Type: text/plain');
echo "path=", $_SERVER['PATH_INFO'] ?? '', "\n";
echo "query=", $_SERVER['QUERY_STRING'], "\n";
echo "probe=", $_SERVER['HTTP_X_PROBE'] ?? '', "\n";
echo "body=", file_get_contents('php://input'), "\n";
`

// TestCallPHPFPM runs cgiref call against a FastCGI responder that is not
// cgiref: php-fpm, on loopback with its own configuration.
func TestCallPHPFPM(t *testing.T) {
	fpm := phpFPM(t)
	dir := t.TempDir()
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	script := filepath.Join(dir, "probe.php")
	mustWrite(t, script, phpScript, 0o644)
	user := ""
	if os.Geteuid() == 0 {
		// t.TempDir makes its directories 0700: let php-fpm's workers in.
		mustDo(t, os.Chmod(dir, 0o755))
		mustDo(t, os.Chmod(filepath.Dir(dir), 0o755))
		user = "user = www-data\ngroup = www-data\n"
	}
	conf := filepath.Join(dir, "php-fpm.conf")
	mustWrite(t, conf, "[global]\npid = "+filepath.Join(dir, "fpm.pid")+"\nerror_log = "+filepath.Join(dir, "fpm.log")+
		"\ndaemonize = no\n\n[probe]\n"+user+"listen = "+addr+"\nlisten.allowed_clients = 127.0.0.1\npm = static\npm.max_children = 2\n"+
		"catch_workers_output = yes\nclear_env = yes\n", 0o644)
	s := newServer(t, "php-fpm", &confData{Dir: dir})
	s.logs = append(s.logs, filepath.Join(dir, "fpm.log"))
	p := startProc(t, "php-fpm", s.addLog("php-fpm.out.log"), nil, fpm, "--nodaemonize", "--fpm-config", conf, "-n")
	p.waitReady(t, "tcp", addr)

	call := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(cgiref, append([]string{"call", "-addr", addr, "-timeout", "20s", "-p", "SCRIPT_FILENAME=" + script, "-p", "SCRIPT_NAME=/probe.php"}, args...)...)
		var errs strings.Builder
		cmd.Stderr = &errs
		out, err := cmd.Output()
		if err != nil {
			if _, ok := err.(*exec.ExitError); !ok {
				t.Fatal(err)
			}
		}
		if errs.Len() > 0 {
			t.Logf("stderr: %s", errs.String())
		}
		return string(out), cmd.ProcessState.ExitCode()
	}

	out, code := call("-H", "X-Probe: hi", "/probe.php/extra?a=1")
	if code != 0 {
		t.Errorf("GET: exit status %d, want 0\n%s", code, out)
	}
	for _, want := range []string{"Status: 200 OK\n", "X-Php: GET\n", "Content-Type: text/plain", "\n\npath=/probe.php/extra\n", "query=a=1\n", "probe=hi\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("GET: answer lacks %q:\n%s", want, out)
		}
	}
	out, code = call("-d", "posted", "/probe.php?status=201")
	if code != 0 || !strings.Contains(out, "Status: 201 Created\n") || !strings.Contains(out, "X-Php: POST\n") || !strings.Contains(out, "body=posted\n") {
		t.Errorf("POST: exit status %d\n%s", code, out)
	}
	out, code = call("/probe.php?status=503")
	if code != 1 || !strings.HasPrefix(out, "Status: 503 Service Unavailable\n") {
		t.Errorf("503: exit status %d, want 1\n%s", code, out)
	}
	p.stop(t)
	out, code = call("/probe.php")
	if code != 3 || out != "" {
		t.Errorf("php-fpm stopped: exit status %d, want 3\n%s", code, out)
	}
}
