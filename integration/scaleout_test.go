//go:build integration

package integration

import (
	"bytes"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// threeData fills docs/conf/nginx-three.conf.tmpl and the files it
// includes.
type threeData struct {
	confData
	NginxAddr            string // nginx's address, the one the backends admit
	FCGI1, FCGI2, FCGI3  string // host:port of the FastCGI backends
	SCGI1, SCGI2, SCGI3  string // host:port of the SCGI backends
	fcgiAddrs, scgiAddrs []string
}

// backendHosts stand in for three machines.
var backendHosts = []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}

// portOn returns a free TCP port on host.
func portOn(t *testing.T, host string) string {
	t.Helper()
	l, err := net.Listen("tcp", host+":0")
	mustDo(t, err)
	defer l.Close()
	return l.Addr().String()
}

// backend is one cgiref process of the scale-out test.
type backend struct {
	proto, addr string
	argv, env   []string
	p           *proc
	starts      int
}

func (b *backend) start(t *testing.T, s *server) {
	t.Helper()
	b.starts++
	name := b.proto + "-" + b.addr + "-" + strconv.Itoa(b.starts)
	b.p = startProc(t, name, s.addLog(name+".log"), b.env, b.argv...)
	b.p.waitReady(t, "tcp", b.addr)
}

func (b *backend) pid() string { return "pid " + strconv.Itoa(b.p.cmd.Process.Pid) }

// stop sends sig to the backend and waits until it has exited.
func (b *backend) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	mustDo(t, syscall.Kill(b.p.cmd.Process.Pid, sig))
	select {
	case <-b.p.done:
	case <-time.After(stopLimit + 10*time.Second):
		t.Fatalf("%s did not exit after %v", b.p.name, sig)
	}
}

// TestScaleOut puts three FastCGI backends, then three SCGI backends, on
// 127.0.0.2, 127.0.0.3 and 127.0.0.4 behind one nginx upstream
// (docs/conf/nginx-*-three*.conf), each admitting only nginx's address.
// Under steady load it restarts all three in turn (SIGTERM, start again,
// wait until nginx sends it requests again), then kills one with SIGKILL.
// No GET may fail.
func TestScaleOut(t *testing.T) {
	c := newConf(t, false)
	d := &threeData{confData: *c, NginxAddr: "127.0.0.1"}
	for _, h := range backendHosts {
		d.fcgiAddrs = append(d.fcgiAddrs, portOn(t, h))
		d.scgiAddrs = append(d.scgiAddrs, portOn(t, h))
	}
	d.FCGI1, d.FCGI2, d.FCGI3 = d.fcgiAddrs[0], d.fcgiAddrs[1], d.fcgiAddrs[2]
	d.SCGI1, d.SCGI2, d.SCGI3 = d.scgiAddrs[0], d.scgiAddrs[1], d.scgiAddrs[2]
	s := newServer(t, "nginx", c)
	errorLog := filepath.Join(c.Dir, "error.log")
	s.logs = append(s.logs, errorLog)
	render(t, c, "cgiref_fastcgi_params", "cgiref_fastcgi_params")
	render(t, c, "cgiref_scgi_params", "cgiref_scgi_params")
	conf := renderThree(t, d)

	var fcgis, scgis []*backend
	for i := range backendHosts {
		fcgis = append(fcgis, &backend{proto: "fcgi", addr: d.fcgiAddrs[i],
			env:  []string{"FCGI_WEB_SERVER_ADDRS=" + d.NginxAddr},
			argv: []string{cgiref, "fcgi", "-listen", d.fcgiAddrs[i], "-app", "check"}})
		scgis = append(scgis, &backend{proto: "scgi", addr: d.scgiAddrs[i],
			argv: []string{cgiref, "scgi", "-listen", d.scgiAddrs[i], "-allow", d.NginxAddr, "-app", "check"}})
	}
	for _, b := range append(append([]*backend{}, fcgis...), scgis...) {
		b.start(t, s)
	}
	s.start(t, nil, "nginx", "-p", c.Dir, "-c", conf, "-e", errorLog, "-g", "daemon off;")

	// The allow-lists are on: a client from 127.0.0.5 is closed on
	// unanswered, nginx's address is served (every request below).
	for _, b := range []*backend{fcgis[0], scgis[0]} {
		if !refusedFrom(t, "127.0.0.5", b.addr) {
			t.Errorf("%s %s served a connection from 127.0.0.5", b.proto, b.addr)
		}
	}

	t.Run("fcgi", func(t *testing.T) { rollAndKill(t, s, s.base+"/three-fcgi/pid", fcgis) })
	t.Run("scgi", func(t *testing.T) { rollAndKill(t, s, s.base+"/three-scgi/pid", scgis) })
}

// renderThree renders the scale-out frame with d.
func renderThree(t *testing.T, d *threeData) string {
	t.Helper()
	tp, err := template.New("").Option("missingkey=error").ParseGlob(filepath.Join(confDir, "*"))
	mustDo(t, err)
	var b bytes.Buffer
	mustDo(t, tp.ExecuteTemplate(&b, "nginx-three.conf.tmpl", d))
	name := filepath.Join(d.Dir, "nginx-three.conf")
	mustWrite(t, name, b.String(), 0o644)
	return name
}

// refusedFrom connects to addr from the local address from and reports
// whether the server closed the connection without waiting for a request.
func refusedFrom(t *testing.T, from, addr string) bool {
	t.Helper()
	dl := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	conn, err := dl.Dial("tcp", addr)
	mustDo(t, err)
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = conn.Read(make([]byte, 1))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// rollAndKill runs steady load on url while it restarts every backend in
// turn, then kills one.
func rollAndKill(t *testing.T, s *server, url string, bs []*backend) {
	const workers = 4
	ld := startLoad(url, workers, 200000, 40*time.Second)
	waitAnswered := func(b *backend) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			ld.mu.Lock()
			n := ld.pids[b.pid()]
			ld.mu.Unlock()
			if n > 0 {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("nginx sent nothing to %s (%s) within 15s", b.addr, b.pid())
	}
	for _, b := range bs {
		waitAnswered(b)
	}
	for _, b := range bs {
		b.stop(t, syscall.SIGTERM)
		b.start(t, s)
		// nginx leaves a failed backend out for fail_timeout: the next
		// one stops only once this one is back in the rotation.
		waitAnswered(b)
	}
	killed := bs[1]
	killed.stop(t, syscall.SIGKILL)
	ld.finish(t, "rolling restart of 3 and a SIGKILL", ld.done()+500)
	if n := ld.done(); n >= ld.total {
		t.Errorf("the load ran out (%d requests) before the phases ended", n)
	}
	// Bring the killed backend back for the next phase's sake.
	killed.start(t, s)
}
