//go:build integration

package integration

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// Bounds of the harness: nothing waits longer than these.
const (
	startLimit = 15 * time.Second // a server or backend accepts connections
	stopLimit  = 5 * time.Second  // a process exits after SIGTERM
	logTail    = 16 << 10         // bytes of each log shown on failure
)

// cgiref is the command under test, set once by TestMain.
var cgiref string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "cgiref-integration-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin, err := buildCgiref(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		return 1
	}
	cgiref = bin
	return m.Run()
}

// buildCgiref builds ./cmd/cgiref into dir (readable and executable by the
// unprivileged users servers switch to), or returns $CGIREF_BINARY.
func buildCgiref(dir string) (string, error) {
	if p := os.Getenv("CGIREF_BINARY"); p != "" {
		return filepath.Abs(p)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "cgiref")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/cgiref")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building cgiref: %w\n%s", err, out)
	}
	return bin, nil
}

// confData is what the configuration templates in docs/conf are rendered
// with.
type confData struct {
	Dir      string // the server's prefix: config, logs, pid file, sockets
	DocRoot  string // Dir/www
	FilesDir string // served by the check app's /files/
	Port     int    // the server's HTTP port on 127.0.0.1
	User     string // user and group the server switches to; "" for none
	Group    string

	// Wrapper scripts that run the check app. CGI programs live in
	// DocRoot/cgi: check runs `cgiref cgi`, auto runs cgiref without a
	// subcommand (it detects CGI). FCGIWrapper runs `cgiref fcgi` and
	// FCGIAutoWrapper cgiref without a subcommand, both on the listening
	// socket a server passes as fd 0.
	CGIDir              string
	FCGIWrapper         string
	FCGIAutoWrapper     string
	FCGIAutoWrapperName string // its base name

	FCGIAddr   string // host:port of a FastCGI backend
	FCGIPort   int
	FCGIAddr2  string // host:port of a second FastCGI backend
	FCGIPort2  int
	Port2      int    // a second port of the server on 127.0.0.1
	StatusAddr string // host:port of a backend's -status listener
	FCGISocket string // path of a FastCGI backend's unix socket
	SCGIAddr   string // host:port of an SCGI backend
	SCGIPort   int

	ModulesDir string // Apache's modules
	NginxDir   string // nginx's stock fastcgi_params and scgi_params
	MPM        string // Apache MPM: event or prefork
	CGIModule  string // Apache CGI module: cgi or cgid
}

// Files the check app's files/ tree and the static document root hold.
const (
	helloText  = "hello from the files app\n"
	secretText = "the protected file\n"
)

// newConf prepares a temporary prefix for one server: directories, the
// files the apps serve, wrapper scripts and free ports. unprivileged says
// the server runs its workers as an unprivileged user when the tests run as
// root; then the prefix belongs to that user.
func newConf(t *testing.T, unprivileged bool) *confData {
	t.Helper()
	dir := t.TempDir()
	c := &confData{
		Dir:        dir,
		DocRoot:    filepath.Join(dir, "www"),
		FilesDir:   filepath.Join(dir, "files"),
		Port:       freePort(t),
		FCGIPort:   freePort(t),
		FCGIPort2:  freePort(t),
		Port2:      freePort(t),
		FCGISocket: filepath.Join(dir, "fcgi.sock"),
		SCGIPort:   freePort(t),
		ModulesDir: "/usr/lib/apache2/modules",
		NginxDir:   "/etc/nginx",
		MPM:        "event",
		CGIModule:  "cgid",
	}
	c.FCGIAddr = "127.0.0.1:" + strconv.Itoa(c.FCGIPort)
	c.FCGIAddr2 = "127.0.0.1:" + strconv.Itoa(c.FCGIPort2)
	c.StatusAddr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	c.SCGIAddr = "127.0.0.1:" + strconv.Itoa(c.SCGIPort)
	c.CGIDir = filepath.Join(c.DocRoot, "cgi")
	c.FCGIWrapper = filepath.Join(dir, "bin", "cgiref-fcgi")
	c.FCGIAutoWrapper = filepath.Join(dir, "bin", "cgiref-auto")
	c.FCGIAutoWrapperName = filepath.Base(c.FCGIAutoWrapper)

	for _, d := range []string{"www/cgi", "files/sub", "bin", "upload", "fcgid", "caddy"} {
		mustDo(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	mustWrite(t, filepath.Join(c.FilesDir, "hello.txt"), helloText, 0o644)
	// The check app authorizes the path /auth: lighttpd serves this file
	// when it does.
	mustWrite(t, filepath.Join(c.DocRoot, "auth"), secretText, 0o644)
	mustWrite(t, filepath.Join(c.CGIDir, "check"), wrapper("cgi", c.FilesDir), 0o755)
	mustWrite(t, filepath.Join(c.CGIDir, "auto"), wrapper("", c.FilesDir), 0o755)
	mustWrite(t, c.FCGIWrapper, wrapper("fcgi", c.FilesDir), 0o755)
	mustWrite(t, c.FCGIAutoWrapper, wrapper("", c.FilesDir), 0o755)

	if os.Geteuid() == 0 {
		// t.TempDir makes its directories 0700: let the server's users in.
		mustDo(t, os.Chmod(dir, 0o755))
		mustDo(t, os.Chmod(filepath.Dir(dir), 0o755))
		if unprivileged {
			u, g := lookupUser(t, "www-data")
			c.User, c.Group = u.Username, g.Name
			chownTree(t, dir, u)
		} else {
			u, err := user.Current()
			mustDo(t, err)
			g, err := user.LookupGroupId(u.Gid)
			mustDo(t, err)
			c.User, c.Group = u.Username, g.Name
		}
	}
	return c
}

// wrapper is a shell script that runs cgiref's check app under the
// subcommand sub, or with none when sub is "".
func wrapper(sub, filesDir string) string {
	if sub != "" {
		sub += " "
	}
	return fmt.Sprintf("#!/bin/sh\nexec '%s' %s-app check -dir '%s'\n", cgiref, sub, filesDir)
}

func lookupUser(t *testing.T, name string) (*user.User, *user.Group) {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("the tests run as root and need the user %s for the server: %v", name, err)
	}
	g, err := user.LookupGroupId(u.Gid)
	mustDo(t, err)
	return u, g
}

func chownTree(t *testing.T, dir string, u *user.User) {
	t.Helper()
	uid, err := strconv.Atoi(u.Uid)
	mustDo(t, err)
	gid, err := strconv.Atoi(u.Gid)
	mustDo(t, err)
	err = filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	mustDo(t, err)
}

// givenPorts are the ports freePort has handed out in this test process:
// the kernel may offer a port again as soon as its listener is closed, and
// two peers of one test were once given the same one.
var givenPorts struct {
	sync.Mutex
	m map[int]bool
}

// freePort returns a TCP port on 127.0.0.1 that nothing listened on a
// moment ago and that no other caller in this process was given.
func freePort(t *testing.T) int {
	t.Helper()
	givenPorts.Lock()
	defer givenPorts.Unlock()
	if givenPorts.m == nil {
		givenPorts.m = make(map[int]bool)
	}
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		mustDo(t, err)
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !givenPorts.m[port] {
			givenPorts.m[port] = true
			return port
		}
	}
	t.Fatal("no free port that was not handed out already")
	return 0
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, name, content string, mode os.FileMode) {
	t.Helper()
	mustDo(t, os.WriteFile(name, []byte(content), mode))
	mustDo(t, os.Chmod(name, mode))
}

// confDir holds the configuration templates: the files the deployment
// guides in docs/ show, and the frames around them.
var confDir = filepath.Join("..", "docs", "conf")

// render writes the template docs/conf/tmpl, filled with c, to c.Dir/out
// and returns the file's path. Every file of docs/conf is a template tmpl
// may insert by its name.
func render(t *testing.T, c *confData, tmpl, out string) string {
	t.Helper()
	src := filepath.Join(confDir, tmpl)
	tp, err := template.New(tmpl).Option("missingkey=error").ParseGlob(filepath.Join(confDir, "*"))
	mustDo(t, err)
	var b bytes.Buffer
	if err := tp.ExecuteTemplate(&b, tmpl, c); err != nil {
		t.Fatalf("rendering %s: %v", src, err)
	}
	name := filepath.Join(c.Dir, out)
	mustWrite(t, name, b.String(), 0o644)
	return name
}

// proc is a process the tests started, in its own process group.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done
}

// startProc starts argv with its output appended to logFile and stops it
// (the whole process group) when the test ends.
func startProc(t *testing.T, name, logFile string, env []string, argv ...string) *proc {
	t.Helper()
	path, err := lookPath(argv[0])
	if err != nil {
		t.Fatalf("%s: %v (scripts/integration.sh installs the servers)", name, err)
	}
	out, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	mustDo(t, err)
	cmd := exec.Command(path, argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// lookPath finds a command in $PATH, or in the sbin folders where Debian
// installs the servers and which a user's $PATH often lacks.
func lookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil || strings.Contains(name, "/") {
		return p, err
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		if p, err2 := exec.LookPath(filepath.Join(dir, name)); err2 == nil {
			return p, nil
		}
	}
	return "", err
}

// stop sends SIGTERM to the process group, then SIGKILL after stopLimit.
func (p *proc) stop(t *testing.T) {
	pgid := -p.cmd.Process.Pid
	select {
	case <-p.done:
		// The leader is gone; children it left behind go too.
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		return
	default:
	}
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopLimit):
		t.Logf("%s did not stop within %v after SIGTERM; killing it", p.name, stopLimit)
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-p.done
	}
	_ = syscall.Kill(pgid, syscall.SIGKILL)
}

// waitReady waits until network/addr accepts a connection, failing the test
// when p exits or startLimit passes first.
func (p *proc) waitReady(t *testing.T, network, addr string) {
	t.Helper()
	deadline := time.Now().Add(startLimit)
	for {
		c, err := net.DialTimeout(network, addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before accepting connections on %s: %v", p.name, addr, p.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: nothing accepts on %s after %v: %v", p.name, addr, startLimit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// server is a running web server and what the tests need to know of it.
type server struct {
	name string
	conf *confData
	base string   // http://127.0.0.1:PORT
	logs []string // error logs, shown when a test fails
}

// newServer registers the failure dump of the server's logs; call it
// before starting anything so the dump runs after every process stopped.
func newServer(t *testing.T, name string, c *confData) *server {
	s := &server{name: name, conf: c, base: "http://127.0.0.1:" + strconv.Itoa(c.Port)}
	t.Cleanup(func() {
		if t.Failed() {
			s.dumpLogs(t)
		}
	})
	return s
}

func (s *server) addLog(name string) string {
	p := filepath.Join(s.conf.Dir, name)
	s.logs = append(s.logs, p)
	return p
}

func (s *server) dumpLogs(t *testing.T) {
	for _, p := range s.logs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Logf("%s: %v", p, err)
			continue
		}
		if len(b) > logTail {
			b = b[len(b)-logTail:]
		}
		t.Logf("---- %s (last %d bytes) ----\n%s", p, len(b), b)
	}
}

// logSizes returns the current size of each log of s.
func (s *server) logSizes() map[string]int64 {
	sizes := make(map[string]int64)
	for _, p := range s.logs {
		if fi, err := os.Stat(p); err == nil {
			sizes[p] = fi.Size()
		}
	}
	return sizes
}

// logsSince returns what the logs of s gained since sizes were taken.
func (s *server) logsSince(sizes map[string]int64) string {
	var b strings.Builder
	for _, p := range s.logs {
		data, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(&b, "%s: %v\n", p, err)
		}
		if n := sizes[p]; n <= int64(len(data)) {
			b.Write(data[n:])
		}
	}
	return b.String()
}

// start runs argv as the server process of s and waits for its HTTP port.
func (s *server) start(t *testing.T, env []string, argv ...string) {
	t.Helper()
	p := startProc(t, s.name, s.addLog(s.name+".out.log"), env, argv...)
	p.waitReady(t, "tcp", "127.0.0.1:"+strconv.Itoa(s.conf.Port))
}

// startBackend runs `cgiref sub -listen addr -app check` for s and waits
// until addr ("unix:PATH" or host:port) accepts connections.
func (s *server) startBackend(t *testing.T, name, sub, addr string) {
	t.Helper()
	logFile := s.addLog(name + ".log")
	p := startProc(t, name, logFile, nil, cgiref, sub, "-listen", addr, "-app", "check", "-dir", s.conf.FilesDir)
	network := "tcp"
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, addr = "unix", path
	}
	p.waitReady(t, network, addr)
}

// The servers. Each start function renders its template, starts the
// backends the configuration points at, then the server.

func startNginx(t *testing.T) *server {
	t.Helper()
	c := newConf(t, false)
	s := newServer(t, "nginx", c)
	s.logs = append(s.logs, filepath.Join(c.Dir, "error.log"))
	s.startBackend(t, "fcgi-tcp", "fcgi", c.FCGIAddr)
	s.startBackend(t, "fcgi-unix", "fcgi", "unix:"+c.FCGISocket)
	s.startBackend(t, "scgi", "scgi", c.SCGIAddr)
	render(t, c, "cgiref_fastcgi_params", "cgiref_fastcgi_params")
	render(t, c, "cgiref_scgi_params", "cgiref_scgi_params")
	conf := render(t, c, "nginx.conf.tmpl", "nginx.conf")
	s.start(t, nil, "nginx", "-p", c.Dir, "-c", conf, "-e", filepath.Join(c.Dir, "error.log"), "-g", "daemon off;")
	return s
}

func startLighttpd(t *testing.T) *server {
	t.Helper()
	c := newConf(t, true)
	s := newServer(t, "lighttpd", c)
	s.logs = append(s.logs, filepath.Join(c.Dir, "error.log"), filepath.Join(c.Dir, "breakage.log"))
	s.startBackend(t, "fcgi-tcp", "fcgi", c.FCGIAddr)
	s.startBackend(t, "scgi", "scgi", c.SCGIAddr)
	conf := render(t, c, "lighttpd.conf.tmpl", "lighttpd.conf")
	s.start(t, nil, "lighttpd", "-D", "-f", conf)
	return s
}

// startApache runs httpd with the given MPM and CGI module (cgi needs the
// prefork MPM, cgid works with any).
func startApache(t *testing.T, mpm, cgiModule string) *server {
	t.Helper()
	c := newConf(t, true)
	c.MPM, c.CGIModule = mpm, cgiModule
	s := newServer(t, "apache-"+cgiModule, c)
	s.logs = append(s.logs, filepath.Join(c.Dir, "error.log"))
	s.startBackend(t, "fcgi-tcp", "fcgi", c.FCGIAddr)
	s.startBackend(t, "scgi", "scgi", c.SCGIAddr)
	conf := render(t, c, "apache.conf.tmpl", "apache.conf")
	s.start(t, nil, "apache2", "-d", c.Dir, "-f", conf, "-DFOREGROUND")
	return s
}

func startCaddy(t *testing.T) *server {
	t.Helper()
	c := newConf(t, false)
	s := newServer(t, "caddy", c)
	s.logs = append(s.logs, filepath.Join(c.Dir, "error.log"))
	s.startBackend(t, "fcgi-tcp", "fcgi", c.FCGIAddr)
	conf := render(t, c, "Caddyfile.tmpl", "Caddyfile")
	home := filepath.Join(c.Dir, "caddy")
	env := []string{"HOME=" + home, "XDG_DATA_HOME=" + home, "XDG_CONFIG_HOME=" + home}
	s.start(t, env, "caddy", "run", "--config", conf, "--adapter", "caddyfile")
	return s
}
