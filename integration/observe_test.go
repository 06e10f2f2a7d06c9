//go:build integration

package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// waitLimit bounds every wait for a counter or a log line to show up.
const waitLimit = 10 * time.Second

// observedBackend is a cgiref fcgi or scgi process a test started with the check
// app and a -status listener.
type observedBackend struct {
	name   string
	log    string // the process's own log (its stderr)
	status string // http://ADDR of its -status listener
}

// startObserved runs `cgiref sub -listen addr -status statusAddr -app
// check` with the extra flags (statusAddr "": a free port) and waits until
// both addresses accept connections. Its log is shown when the test fails.
func startObserved(t *testing.T, s *server, name, sub, addr, statusAddr string, flags ...string) *observedBackend {
	t.Helper()
	if statusAddr == "" {
		statusAddr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	}
	log := s.addLog(name + ".log")
	argv := append([]string{cgiref, sub, "-listen", addr, "-status", statusAddr, "-app", "check", "-dir", s.conf.FilesDir}, flags...)
	p := startProc(t, name, log, nil, argv...)
	p.waitReady(t, "tcp", addr)
	p.waitReady(t, "tcp", statusAddr)
	return &observedBackend{name: name, log: log, status: "http://" + statusAddr}
}

// startOpsNginx runs nginx with docs/conf/nginx-ops.conf.tmpl: FastCGI at
// /fcgi-tcp/ to c.FCGIAddr, SCGI at /scgi/ to c.SCGIAddr, the passive
// health-checked upstream at /checked/ and the ping at /ping. The tests
// start the backends.
func startOpsNginx(t *testing.T) *server {
	t.Helper()
	c := newConf(t, false)
	s := newServer(t, "nginx", c)
	s.logs = append(s.logs, filepath.Join(c.Dir, "error.log"))
	render(t, c, "cgiref_fastcgi_params", "cgiref_fastcgi_params")
	render(t, c, "cgiref_scgi_params", "cgiref_scgi_params")
	conf := render(t, c, "nginx-ops.conf.tmpl", "nginx.conf")
	s.start(t, nil, "nginx", "-p", c.Dir, "-c", conf, "-e", filepath.Join(c.Dir, "error.log"), "-g", "daemon off;")
	return s
}

// statusDoc is the JSON of GET /status, the fields the tests read.
type statusDoc struct {
	Server     string           `json:"server"`
	Requests   int64            `json:"requests_total"`
	InFlight   int64            `json:"requests_in_flight"`
	ConnsOpen  int64            `json:"connections_open"`
	ConnsTotal int64            `json:"connections_accepted_total"`
	Outcomes   map[string]int64 `json:"requests_by_outcome"`
	Refusals   map[string]int64 `json:"refusals_by_reason"`
	BytesIn    int64            `json:"bytes_in_total"`
	BytesOut   int64            `json:"bytes_out_total"`
	Slow       int64            `json:"slow_requests_total"`
	Pings      int64            `json:"pings_total"`
}

// stats reads GET /status.
func (b *observedBackend) stats(t *testing.T) statusDoc {
	t.Helper()
	resp, body := send(t, "GET", b.status+"/status", nil, nil)
	wantStatus(t, resp, 200, body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s /status: Content-Type %q, want application/json", b.name, ct)
	}
	var d statusDoc
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatalf("%s /status: %v\n%s", b.name, err, body)
	}
	return d
}

// waitStats polls GET /status until ok holds, and fails the test after
// waitLimit.
func (b *observedBackend) waitStats(t *testing.T, what string, ok func(statusDoc) bool) statusDoc {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		d := b.stats(t)
		if ok(d) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s: not seen in %v; /status: %+v", b.name, what, waitLimit, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sample is a line of the Prometheus text format: `name{labels} value`.
var sample = regexp.MustCompile(`^([a-z_]+(?:\{[^}]*\})?) (-?[0-9]+)$`)

// metrics reads GET /metrics: each series (its name with its labels, as
// written) and its value. Every line must be a comment or a sample.
func (b *observedBackend) metrics(t *testing.T) map[string]int64 {
	t.Helper()
	resp, body := send(t, "GET", b.status+"/metrics", nil, nil)
	wantStatus(t, resp, 200, body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("%s /metrics: Content-Type %q, want text/plain; version=0.0.4", b.name, ct)
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") {
			continue
		}
		m := sample.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("%s /metrics: line %q is neither a comment nor a sample", b.name, line)
		}
		v, _ := strconv.ParseInt(m[2], 10, 64)
		out[m[1]] = v
	}
	return out
}

// logText returns the backend's log as it is now.
func (b *observedBackend) logText(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(b.log)
	mustDo(t, err)
	return string(data)
}

// waitFile waits until the file at path holds want, and returns its text.
func waitFile(t *testing.T, path, want string) string {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), want) {
			return string(data)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q after %v:\n%s", path, want, waitLimit, clip(data))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// linesWith returns the lines of text that hold s.
func linesWith(text, s string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// hold sends GET url in the background and returns a channel that gets its
// status and body (or error) once the answer is complete.
func hold(url string) <-chan string {
	ch := make(chan string, 1)
	go func() {
		resp, err := client.Get(url)
		if err != nil {
			ch <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			ch <- err.Error()
			return
		}
		ch <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	return ch
}

// observedProtocols are the two front ends behind nginx: the subcommand,
// the backend address in the configuration, and the URL prefix.
var observedProtocols = []struct {
	sub, prefix string
	addr        func(*confData) string
}{
	{"fcgi", "/fcgi-tcp", func(c *confData) string { return c.FCGIAddr }},
	{"scgi", "/scgi", func(c *confData) string { return c.SCGIAddr }},
}

// TestPingSaturated: with its only request slot held by a handler that
// sleeps (FastCGI: -max-requests 1), the gateway still answers its ping
// through nginx with 200 "pong", while /status shows the request in flight
// and an ordinary request is refused. SCGI has no request limit: there the
// ping answers beside the busy handler.
func TestPingSaturated(t *testing.T) {
	for _, p := range observedProtocols {
		t.Run(p.sub, func(t *testing.T) {
			srv := startOpsNginx(t)
			pingPath, flags := p.prefix+"/ping", []string{}
			if p.sub == "fcgi" {
				pingPath, flags = "/ping", []string{"-max-requests", "1"} // nginx-health.conf's location = /ping
			}
			b := startObserved(t, srv, p.sub, p.sub, p.addr(srv.conf), "", append(flags, "-ping", pingPath)...)
			held := hold(srv.base + p.prefix + "/sleep?ms=3000")
			b.waitStats(t, "the sleeping request in flight", func(d statusDoc) bool { return d.InFlight == 1 })
			for range 3 {
				resp, body := send(t, "GET", srv.base+pingPath, nil, nil)
				wantStatus(t, resp, 200, body)
				if string(body) != "pong" {
					t.Errorf("ping body %q, want pong", body)
				}
			}
			d := b.stats(t)
			if d.InFlight != 1 || d.Requests != 1 || d.Pings != 3 {
				t.Errorf("/status during the sleep: requests_in_flight %d, requests_total %d, pings_total %d; want 1, 1, 3", d.InFlight, d.Requests, d.Pings)
			}
			if p.sub == "fcgi" {
				resp, body := send(t, "GET", srv.base+p.prefix+"/status/200", nil, nil)
				if resp.StatusCode == 200 {
					t.Errorf("a request past -max-requests 1 was answered 200: %s", body)
				}
				if d := b.stats(t); d.Refusals["overloaded"] != 1 {
					t.Errorf("refusals_by_reason overloaded %d, want 1", d.Refusals["overloaded"])
				}
			}
			if got := <-held; got != "200 slept 3000 ms\n" {
				t.Errorf("the sleeping request: %q", got)
			}
			b.waitStats(t, "no request in flight", func(d statusDoc) bool { return d.InFlight == 0 })
		})
	}
}

// TestStatusCounters drives requests through nginx (one completed, one
// panic, one whose client goes away in the middle) and reads the counters
// back from the -status listener, as JSON and in the Prometheus format.
// Under SCGI the client that went away is not noticed (see below).
func TestStatusCounters(t *testing.T) {
	for _, p := range observedProtocols {
		t.Run(p.sub, func(t *testing.T) {
			srv := startOpsNginx(t)
			b := startObserved(t, srv, p.sub, p.sub, p.addr(srv.conf), "")
			if d := b.stats(t); d.Server != p.sub || d.Requests != 0 || d.InFlight != 0 {
				t.Fatalf("/status before any request: %+v", d)
			}

			resp, body := send(t, "GET", srv.base+p.prefix+"/status/200", nil, nil)
			wantStatus(t, resp, 200, body)
			resp, body = send(t, "GET", srv.base+p.prefix+"/panic", nil, nil)
			wantPanicAnswer(t, resp, body)

			// A client that goes away while its handler sleeps.
			c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(srv.conf.Port))
			mustDo(t, err)
			_, err = fmt.Fprintf(c, "GET %s/sleep?ms=5000 HTTP/1.1\r\nHost: localhost\r\n\r\n", p.prefix)
			mustDo(t, err)
			b.waitStats(t, "the sleeping request in flight", func(d statusDoc) bool { return d.InFlight == 1 })
			c.Close()
			d := b.waitStats(t, "the client-gone request ended", func(d statusDoc) bool { return d.InFlight == 0 })

			want := map[string]int64{"completed": 1, "panicked": 1, "client_gone": 1, "aborted": 0, "cut": 0, "timed_out": 0}
			if p.sub == "scgi" {
				// nginx ends an SCGI connection with a FIN, which the scgi
				// front end takes for a half-close (flup sends one after
				// every request) and not for a client gone: the handler
				// sleeps on, and its answer, written into a socket whose
				// peer closed, goes out without an error.
				want["completed"], want["client_gone"] = 2, 0
			}
			if d.Requests != 3 {
				t.Errorf("requests_total %d, want 3", d.Requests)
			}
			for k, v := range want {
				if d.Outcomes[k] != v {
					t.Errorf("requests_by_outcome %s = %d, want %d (all: %v)", k, d.Outcomes[k], v, d.Outcomes)
				}
			}
			if d.ConnsTotal < 3 || d.BytesIn == 0 || d.BytesOut == 0 {
				t.Errorf("connections_accepted_total %d (want at least 3), bytes_in_total %d, bytes_out_total %d", d.ConnsTotal, d.BytesIn, d.BytesOut)
			}

			m := b.metrics(t)
			label := fmt.Sprintf(`server=%q`, p.sub)
			wantMetrics := map[string]int64{
				"cgiref_requests_total{" + label + "}":     3,
				"cgiref_requests_in_flight{" + label + "}": 0,
			}
			for k, v := range want {
				wantMetrics[fmt.Sprintf(`cgiref_requests_by_outcome_total{%s,outcome=%q}`, label, k)] = v
			}
			for k, v := range wantMetrics {
				if got, ok := m[k]; !ok || got != v {
					t.Errorf("/metrics: %s = %d (present %v), want %d", k, got, ok, v)
				}
			}
		})
	}
}

// TestErrorStream sends the check app's error output (a /log line and a
// panic's stack) through each -errors policy behind nginx and looks for it
// in nginx's error log and in cgiref's own log.
func TestErrorStream(t *testing.T) {
	for _, tc := range []struct {
		sub, policy string
		nginx, own  bool // where the output must land
	}{
		{"fcgi", "webserver", true, false},
		{"fcgi", "log", false, true},
		{"fcgi", "discard", false, false},
		{"scgi", "log", false, true},
		{"scgi", "discard", false, false},
	} {
		t.Run(tc.sub+"-"+tc.policy, func(t *testing.T) {
			srv := startOpsNginx(t)
			prefix, addr := "/fcgi-tcp", srv.conf.FCGIAddr
			if tc.sub == "scgi" {
				prefix, addr = "/scgi", srv.conf.SCGIAddr
			}
			b := startObserved(t, srv, tc.sub, tc.sub, addr, "", "-errors", tc.policy)
			marker := "marker-" + tc.sub + "-" + tc.policy
			resp, body := send(t, "GET", srv.base+prefix+"/log?msg="+marker, nil, nil)
			wantStatus(t, resp, 200, body)
			resp, body = send(t, "GET", srv.base+prefix+"/panic", nil, nil)
			wantPanicAnswer(t, resp, body)
			const panicText = "/panic requested"
			nginxLog := filepath.Join(srv.conf.Dir, "error.log")

			switch {
			case tc.nginx:
				text := waitFile(t, nginxLog, panicText)
				for _, l := range linesWith(text, marker) {
					if !strings.Contains(l, "[error]") || !strings.Contains(l, "FastCGI sent in stderr") {
						t.Errorf("nginx logged the app's line as %q, want [error] ... FastCGI sent in stderr", l)
					}
				}
				if len(linesWith(text, marker)) == 0 {
					t.Errorf("no %q in nginx's error log", marker)
				}
				if !stackFrame.MatchString(text) {
					t.Errorf("no stack frame in nginx's error log:\n%s", text)
				}
			case tc.own:
				text := waitFile(t, b.log, panicText)
				if !strings.Contains(text, marker) {
					t.Errorf("no %q in cgiref's log:\n%s", marker, text)
				}
				records := linesWith(text, panicText)
				if len(records) != 1 {
					t.Errorf("the panic is %d records in cgiref's log, want 1:\n%s", len(records), text)
				} else if !strings.Contains(records[0], "goroutine ") || !stackFrame.MatchString(records[0]) {
					t.Errorf("the panic's record has no stack: %s", records[0])
				}
			default:
				time.Sleep(500 * time.Millisecond) // what is on its way lands
			}
			if !tc.nginx {
				data, _ := os.ReadFile(nginxLog)
				if strings.Contains(string(data), marker) || strings.Contains(string(data), panicText) {
					t.Errorf("the app's error output reached nginx's error log:\n%s", data)
				}
			}
			if !tc.own {
				if text := b.logText(t); strings.Contains(text, marker) || strings.Contains(text, panicText) {
					t.Errorf("the app's error output reached cgiref's log:\n%s", text)
				}
			}
		})
	}
}

// TestSlowRequest: with -slow 200ms, a request that sleeps 600 ms is
// logged once as slow, with the check app's sleeping function in the
// stack; a quick one is not.
func TestSlowRequest(t *testing.T) {
	for _, p := range observedProtocols {
		t.Run(p.sub, func(t *testing.T) {
			srv := startOpsNginx(t)
			b := startObserved(t, srv, p.sub, p.sub, p.addr(srv.conf), "", "-slow", "200ms")
			resp, body := send(t, "GET", srv.base+p.prefix+"/sleep?ms=0", nil, nil)
			wantStatus(t, resp, 200, body)
			resp, body = send(t, "GET", srv.base+p.prefix+"/sleep?ms=600", nil, nil)
			wantStatus(t, resp, 200, body)
			if string(body) != "slept 600 ms\n" {
				t.Errorf("body %q", body)
			}
			text := waitFile(t, b.log, "slow request")
			records := linesWith(text, `msg="slow request"`)
			if len(records) != 1 {
				t.Fatalf("%d slow-request records, want 1:\n%s", len(records), text)
			}
			rec := records[0]
			for _, want := range []string{"main.sleepApp", "method=GET", "uri=" + strconv.Quote(p.prefix+"/sleep?ms=600"), "elapsed="} {
				if !strings.Contains(rec, want) {
					t.Errorf("the slow-request record lacks %q: %s", want, rec)
				}
			}
			if d := b.stats(t); d.Slow != 1 {
				t.Errorf("slow_requests_total %d, want 1", d.Slow)
			}
		})
	}
}

// TestNginxPassiveHealth runs docs/conf/nginx-health*.conf with the second
// backend of the upstream down: every request is answered by the first.
func TestNginxPassiveHealth(t *testing.T) {
	srv := startOpsNginx(t)
	b := startObserved(t, srv, "fcgi", "fcgi", srv.conf.FCGIAddr, "")
	const n = 8
	for i := range n {
		resp, body := send(t, "GET", srv.base+"/checked/status/200", nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d with a backend down: %s", i, resp.StatusCode, body)
		}
	}
	if d := b.stats(t); d.Requests != n {
		t.Errorf("the live backend served %d requests, want %d", d.Requests, n)
	}
	// With no -ping, the location = /ping reaches the application itself.
	resp, body := send(t, "GET", srv.base+"/ping", nil, nil)
	wantStatus(t, resp, 200, body)
	wantLines(t, body, map[string]string{"REQUEST_URI": "/ping"})
}

// TestHAProxyHealth runs HAProxy with docs/conf/haproxy-fcgi*.cfg: an HTTP
// check over FastCGI (fcgi-app) and a FastCGI ping in tcp-check bytes. The
// first backend answers the ping (-ping /ping) and is UP in both; the
// second has no ping (the application answers /ping with its listing) and
// goes DOWN in both.
func TestHAProxyHealth(t *testing.T) {
	c := newConf(t, false)
	s := newServer(t, "haproxy", c)
	up := startObserved(t, s, "fcgi-up", "fcgi", c.FCGIAddr, "", "-ping", "/ping")
	down := startObserved(t, s, "fcgi-down", "fcgi", c.FCGIAddr2, "")
	conf := render(t, c, "haproxy.cfg.tmpl", "haproxy.cfg")
	s.start(t, nil, "haproxy", "-db", "-f", conf)

	want := map[string]string{
		"cgiref_app/app1": "UP", "cgiref_app/app2": "DOWN",
		"cgiref_fcgi_tcp/app1": "UP", "cgiref_fcgi_tcp/app2": "DOWN",
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := haproxyStates(t, filepath.Join(c.Dir, "haproxy.sock"))
		same := true
		for k, v := range want {
			same = same && got[k] == v
		}
		if same {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("HAProxy's server states %v, want %v", got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if d := up.stats(t); d.Pings < 2 || d.Requests != 0 {
		t.Errorf("the pinged backend: pings_total %d (want at least 2: one per check), requests_total %d (want 0)", d.Pings, d.Requests)
	}
	if d := down.stats(t); d.Pings != 0 || d.Requests < 2 {
		t.Errorf("the backend without -ping: pings_total %d (want 0), requests_total %d (want at least 2)", d.Pings, d.Requests)
	}
	// Requests go to the backend that is UP, over HTTP and over raw FastCGI.
	for range 4 {
		resp, body := send(t, "GET", s.base+"/status/200", nil, nil)
		wantStatus(t, resp, 200, body)
	}
	out, err := exec.Command(cgiref, "call", "-addr", "127.0.0.1:"+strconv.Itoa(c.Port2), "-timeout", "10s", "/status/201").Output()
	if err != nil || !strings.HasPrefix(string(out), "Status: 201 Created\n") {
		t.Errorf("cgiref call through HAProxy's tcp frontend: %v\n%s", err, out)
	}
	// The fcgi-app's log-stderr: the application's error output is in
	// HAProxy's log (its stderr here).
	resp, body := send(t, "GET", s.base+"/log?msg=marker-haproxy", nil, nil)
	wantStatus(t, resp, 200, body)
	waitFile(t, filepath.Join(c.Dir, "haproxy.out.log"), "marker-haproxy")
	if d := up.stats(t); d.Requests != 6 {
		t.Errorf("the backend that is UP served %d requests, want 6", d.Requests)
	}
}

// haproxyStates asks HAProxy's stats socket for "show stat" and returns
// the status of each server as "backend/server".
func haproxyStates(t *testing.T, sock string) map[string]string {
	t.Helper()
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	mustDo(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = io.WriteString(c, "show stat\n")
	mustDo(t, err)
	data, err := io.ReadAll(c)
	mustDo(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "# ") {
		t.Fatalf("show stat: %q", data)
	}
	col := map[string]int{}
	for i, name := range strings.Split(strings.TrimPrefix(lines[0], "# "), ",") {
		col[name] = i
	}
	out := map[string]string{}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if len(f) <= col["status"] || f[col["svname"]] == "FRONTEND" || f[col["svname"]] == "BACKEND" {
			continue
		}
		// "UP 1/2" while rising, "DOWN 1/2" while falling: the state alone.
		state, _, _ := strings.Cut(f[col["status"]], " ")
		out[f[col["pxname"]]+"/"+f[col["svname"]]] = state
	}
	return out
}

// TestCaddyHealth runs Caddy with docs/conf/caddy-health.conf (passive
// health checks over the FastCGI transport) with the second backend down:
// every request is answered by the first. The active checks of
// docs/conf/caddy-health-active.conf pass `caddy validate`; Debian 12's
// Caddy 2.6.2 panics in each active check over FastCGI
// (caddyserver/caddy#5281), so they are not run.
func TestCaddyHealth(t *testing.T) {
	c := newConf(t, false)
	s := newServer(t, "caddy", c)
	s.logs = append(s.logs, filepath.Join(c.Dir, "error.log"))
	b := startObserved(t, s, "fcgi", "fcgi", c.FCGIAddr, "", "-ping", "/ping")
	home := filepath.Join(c.Dir, "caddy")
	env := []string{"HOME=" + home, "XDG_DATA_HOME=" + home, "XDG_CONFIG_HOME=" + home}

	active := render(t, c, "Caddyfile-active.tmpl", "Caddyfile-active")
	validate := exec.Command("caddy", "validate", "--config", active, "--adapter", "caddyfile")
	validate.Env = append(os.Environ(), env...)
	if out, err := validate.CombinedOutput(); err != nil {
		t.Errorf("caddy validate %s: %v\n%s", active, err, out)
	}

	conf := render(t, c, "Caddyfile-health.tmpl", "Caddyfile")
	s.start(t, env, "caddy", "run", "--config", conf, "--adapter", "caddyfile")
	const n = 8
	for i := range n {
		resp, body := send(t, "GET", s.base+"/checked/status/200", nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d with a backend down: %s", i, resp.StatusCode, body)
		}
	}
	if d := b.stats(t); d.Requests != n {
		t.Errorf("the live backend served %d requests, want %d", d.Requests, n)
	}
}

// TestPrometheusScrape runs Prometheus with docs/conf/prometheus-cgiref.yml
// against a backend's -status listener and asks Prometheus's API for
// cgiref_requests_total: the value /status gives.
func TestPrometheusScrape(t *testing.T) {
	c := newConf(t, false)
	s := newServer(t, "prometheus", c)
	b := startObserved(t, s, "fcgi", "fcgi", c.FCGIAddr, c.StatusAddr)
	for _, path := range []string{"/a", "/b"} {
		out, err := exec.Command(cgiref, "call", "-addr", c.FCGIAddr, "-timeout", "10s", path).Output()
		if err != nil {
			t.Fatalf("cgiref call %s: %v\n%s", path, err, out)
		}
	}
	conf := render(t, c, "prometheus.yml.tmpl", "prometheus.yml")
	s.start(t, nil, "prometheus", "--config.file="+conf, "--storage.tsdb.path="+filepath.Join(c.Dir, "tsdb"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(c.Port))

	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(s.base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus is not ready after 20s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	q := s.base + "/api/v1/query?query=" + "cgiref_requests_total"
	for {
		resp, body := send(t, "GET", q, nil, nil)
		wantStatus(t, resp, 200, body)
		var r struct {
			Status string `json:"status"`
			Data   struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  [2]any            `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		mustDo(t, json.Unmarshal(body, &r))
		if len(r.Data.Result) == 1 {
			res := r.Data.Result[0]
			if res.Metric["server"] != "fcgi" || res.Metric["job"] != "cgiref" || res.Value[1] != "2" {
				t.Errorf("Prometheus has %v = %v, want server=fcgi job=cgiref and 2", res.Metric, res.Value[1])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus has no cgiref_requests_total after 20s: %s", body)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if d := b.stats(t); d.Requests != 2 {
		t.Errorf("/status requests_total %d, want 2", d.Requests)
	}
	// Prometheus read every series of the scrape: none was dropped as
	// malformed.
	resp, body := send(t, "GET", s.base+"/api/v1/query?query="+`count({job="cgiref",__name__=~"cgiref_.*"})`, nil, nil)
	wantStatus(t, resp, 200, body)
	if want := fmt.Sprintf(`"%d"`, len(b.metrics(t))); !strings.Contains(string(body), want) {
		t.Errorf("Prometheus holds a series count other than %s of /metrics: %s", want, body)
	}
}
