package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// mainEnv makes the test binary run main instead of the tests, so that
// tests can run the command as a separate process.
const mainEnv = "CGIREF_TEST_RUN_MAIN"

// keepMainEnv keeps mainEnv set in the command, so that the processes it
// starts itself (a SIGHUP hand-over) run main too.
const keepMainEnv = "CGIREF_TEST_KEEP_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		if os.Getenv(keepMainEnv) == "" {
			os.Unsetenv(mainEnv)
		}
		main()
		return
	}
	os.Exit(m.Run())
}

// command returns the command with args, run with env (KEY=value) only.
func command(t *testing.T, ctx context.Context, env []string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append([]string{mainEnv + "=1"}, env...)
	if runtime.GOOS == "windows" {
		cmd.Env = append(cmd.Env, "SYSTEMROOT="+os.Getenv("SYSTEMROOT"))
	}
	return cmd
}

// runCommand runs the command to its end and returns its output and exit
// status.
func runCommand(t *testing.T, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := command(t, ctx, env, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	err := cmd.Run()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("running %v: %v", args, err)
		}
	}
	return out.String(), errs.String(), cmd.ProcessState.ExitCode()
}

func noEnv(string) (string, bool) { return "", false }
func notListener() bool           { return false }

func TestRunUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no subcommand", nil, 2, "usage:\n  cgiref serve"},
		{"unknown", []string{"bogus"}, 2, `cgiref: unknown subcommand "bogus"`},
		{"flag without subcommand", []string{"-app", "echo"}, 2, `unknown subcommand "-app"`},
		{"help", []string{"-h"}, 0, "usage:\n"},
		{"help word", []string{"help"}, 0, "usage:\n"},
		{"serve -h", []string{"serve", "-h"}, 0, "usage: cgiref serve"},
		{"cgi -h", []string{"cgi", "-h"}, 0, "usage: cgiref cgi"},
		{"iis -help", []string{"iis", "-help"}, 0, "usage: cgiref iis"},
		{"script line -h", []string{"cgi -app echo -h"}, 0, "usage: cgiref cgi"},
		{"serve bad flag", []string{"serve", "-nope"}, 2, "flag provided but not defined: -nope"},
		{"cgi bad flag", []string{"cgi", "-nope"}, 2, "flag provided but not defined: -nope"},
		{"serve extra argument", []string{"serve", "extra"}, 2, `unexpected argument "extra"`},
		{"serve bad app", []string{"serve", "-app", "php"}, 2, `unknown app \"php\"`},
		{"serve bad listen", []string{"serve", "-listen", "nowhere"}, 2, "-listen"},
		{"serve bad port", []string{"serve", "-listen", "127.0.0.1:99999"}, 2, "bad port"},
		{"cgi files without dir", []string{"cgi", "-app", "files"}, 2, "-app files needs -dir"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			code := run(tc.args, noEnv, notListener, &b)
			if code != tc.code || !strings.Contains(b.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, b.String(), tc.code, tc.want)
			}
		})
	}
}

func TestSplitScriptLine(t *testing.T) {
	tests := []struct {
		in, want []string
	}{
		{nil, nil},
		{[]string{"cgi"}, []string{"cgi"}},
		{[]string{"cgi -app echo", "/cgi-bin/x"}, []string{"cgi", "-app", "echo", "/cgi-bin/x"}},
		{[]string{"fcgi  -listen   :9000"}, []string{"fcgi", "-listen", ":9000"}},
		{[]string{"a query"}, []string{"a query"}},
		{[]string{" "}, []string{" "}},
	}
	for _, tc := range tests {
		got := splitScriptLine(tc.in)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("splitScriptLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// cgiVars is a CGI environment for a request of pathInfo.
func cgiVars(method, pathInfo string, extra ...string) []string {
	return append([]string{
		"GATEWAY_INTERFACE=CGI/1.1",
		"REQUEST_METHOD=" + method,
		"SERVER_NAME=localhost",
		"SERVER_PORT=80",
		"SERVER_PROTOCOL=HTTP/1.1",
		"SCRIPT_NAME=/cgi-bin/cgiref",
		"PATH_INFO=" + pathInfo,
		"QUERY_STRING=",
	}, extra...)
}

func TestCommandCGI(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   []string
		stdin string
		want  string // the start of stdout
		has   string // and something in it
	}{
		{"detected", nil, cgiVars("GET", "/x"), "",
			"Status: 200 OK\r\n", "\r\n\r\nHello world!\n\nGATEWAY_INTERFACE = \"CGI/1.1\"\n"},
		{"detected with ISINDEX words", []string{"some", "words"}, cgiVars("GET", "/x"), "",
			"Status: 200 OK\r\n", "PATH_INFO = \"/x\"\n"},
		{"detected with flags", []string{"-app", "echo"}, cgiVars("POST", "/", "CONTENT_LENGTH=4", "CONTENT_TYPE=text/x-a"), "ping",
			"Status: 200 OK\r\nContent-Length: 4\r\nContent-Type: text/x-a\r\n\r\nping", ""},
		{"cgi subcommand", []string{"cgi", "-app", "check", "-validate"}, cgiVars("GET", "/status/404"), "",
			"Status: 404 Not Found\r\nContent-Length: 11\r\nContent-Type: text/plain; charset=utf-8\r\n", "\r\n\r\nstatus 404\n"},
		{"script line", []string{"cgi -app echo", "/var/www/cgi-bin/echo"}, cgiVars("POST", "/", "CONTENT_LENGTH=5"), "hello",
			"Status: 200 OK\r\nContent-Length: 5\r\nContent-Type: application/octet-stream\r\n\r\nhello", ""},
		{"iis", []string{"iis"}, cgiVars("GET", "/cgi-bin/cgiref/y", "SERVER_SOFTWARE=Microsoft-IIS/10.0"), "",
			"Status: 200 OK\r\n", "PATH_INFO = \"/y\"\n"},
		{"panic", []string{"cgi", "-app", "check"}, cgiVars("GET", "/panic"), "",
			"Status: 500 Internal Server Error\r\n", "A server error occurred.  Please contact the administrator."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errs, code := runCommand(t, tc.env, tc.stdin, tc.args...)
			if !strings.HasPrefix(out, tc.want) || !strings.Contains(out, tc.has) {
				t.Errorf("stdout %q\nstderr %q\nwant it to start with %q and hold %q", out, errs, tc.want, tc.has)
			}
			if code != 0 {
				t.Errorf("exit status %d, stderr %q", code, errs)
			}
		})
	}
}

// TestCommandCGIDemoHides runs the demo as a CGI script whose process
// environment holds a secret (as Apache's SetEnv gives it) and a request
// with credentials: the listing shows neither.
func TestCommandCGIDemoHides(t *testing.T) {
	env := cgiVars("GET", "/x", "DB_PASSWORD=s3cret", "HTTP_AUTHORIZATION=Basic s3cret",
		"HTTP_COOKIE=id=s3cret", "HTTP_PROXY_AUTHORIZATION=Bearer s3cret", "HTTP_X_A=shown", "HOME=/home/s3cret")
	for _, args := range [][]string{nil, {"cgi"}, {"iis"}} {
		out, errs, code := runCommand(t, env, "", args...)
		if code != 0 || !strings.HasPrefix(out, "Status: 200 OK\r\n") {
			t.Fatalf("%v: exit status %d, stdout %q, stderr %q", args, code, out, errs)
		}
		for _, want := range []string{"\nHTTP_X_A = \"shown\"\n", "\nHTTP_AUTHORIZATION = \"[redacted]\"\n",
			"\nHTTP_COOKIE = \"[redacted]\"\n", "\nHTTP_PROXY_AUTHORIZATION = \"[redacted]\"\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: no line %q in %q", args, strings.TrimSpace(want), out)
			}
		}
		for _, bad := range []string{"s3cret", "DB_PASSWORD", "HOME", mainEnv} {
			if strings.Contains(out, bad) {
				t.Errorf("%v: %q is shown: %q", args, bad, out)
			}
		}
	}
}

func TestCommandUsage(t *testing.T) {
	_, errs, code := runCommand(t, nil, "")
	if code != 2 || !strings.Contains(errs, "usage:") {
		t.Errorf("no subcommand: exit %d, stderr %q; want 2 and the usage", code, errs)
	}
	for _, sub := range []string{"serve", "cgi", "iis"} {
		out, errs, code := runCommand(t, nil, "", sub, "-h")
		if code != 0 || out != "" || !strings.Contains(errs, "usage: cgiref "+sub) {
			t.Errorf("%s -h: exit %d, stdout %q, stderr %q", sub, code, out, errs)
		}
	}
}

func TestCommandServe(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("stopping the server needs an interrupt signal")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := command(t, ctx, nil, "serve", "-listen", "127.0.0.1:0", "-app", "check", "-validate")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stderr)
	addrRE := regexp.MustCompile(`msg="serving HTTP" addr=(127\.0\.0\.1:\d+)`)
	var addr string
	var logs []string
	for lines.Scan() {
		logs = append(logs, lines.Text())
		if m := addrRE.FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
			break
		}
	}
	if addr == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("no address logged: %q", logs)
	}
	rest := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(stderr)
		rest <- string(b)
	}()

	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Post("http://"+addr+"/echo", "text/x-test", strings.NewReader("over HTTP"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "over HTTP" || resp.Header.Get("Content-Type") != "text/x-test" {
		t.Errorf("echo: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}
	resp, err = client.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "SERVER_SOFTWARE = ") {
		t.Errorf("demo listing %q", body)
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	tail := <-rest // the pipe ends when the process does; read it before Wait
	err = cmd.Wait()
	if err != nil || !strings.Contains(tail, `msg="serve: stopped"`) {
		t.Errorf("after SIGINT: %v, stderr %q", err, tail)
	}
}
