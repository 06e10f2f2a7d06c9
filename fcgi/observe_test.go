package fcgi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cgiref/cgiref/gateway"
)

// TestStatsCounters drives each counter through a real socket and reads it
// back from Stats and from the status handler.
func TestStatsCounters(t *testing.T) {
	started := make(chan struct{}, 4)
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/panic":
			panic("boom")
		case "/block":
			started <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/wait":
			started <- struct{}{}
			<-r.Context().Done()
		case "/short":
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "12345")
			return
		}
		io.WriteString(w, "ok")
	})
	var access []gateway.AccessRecord
	accessCh := make(chan gateway.AccessRecord, 100)
	s := &Server{Handler: h, MaxRequests: 2, MaxHeaderBytes: 1024, MaxBodyBytes: 100,
		AccessLog: func(a gateway.AccessRecord) { accessCh <- a }}
	addr := startServer(t, s)

	c := dial(t, addr)
	c.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/ok"), nil))
	c.results(1)
	c.mustSend(requestBytes(2, roleResponder, flagKeepConn, getEnv("/panic"), nil))
	c.results(2)
	// Refusals: PARAMS too large, a declared body too large, bad PARAMS.
	b := appendBeginRequest(nil, 3, roleResponder, flagKeepConn)
	b = appendRecord(b, typeParams, 3, pairs{{"X", strings.Repeat("v", 2000)}}.encode())
	c.mustSend(b)
	c.results(3)
	c.mustSend(requestBytes(4, roleResponder, flagKeepConn, postEnv("/", 101), nil))
	c.results(4)
	// Aborted by the web server.
	c.mustSend(requestBytes(5, roleResponder, flagKeepConn, getEnv("/block"), nil))
	<-started
	c.mustSend(appendRecord(nil, typeAbortRequest, 5, nil))
	c.results(5)
	// Overloaded: two running, a third refused.
	c.mustSend(requestBytes(6, roleResponder, flagKeepConn, getEnv("/block"), nil))
	c.mustSend(requestBytes(7, roleResponder, flagKeepConn, getEnv("/block"), nil))
	<-started
	<-started
	c.mustSend(requestBytes(8, roleResponder, flagKeepConn, getEnv("/ok"), nil))
	if r := c.results(8)[8]; r.end.protocolStatus != statusOverloaded {
		t.Errorf("third request past MaxRequests: %+v", r.end)
	}
	close(release)
	c.results(6, 7)
	// Client gone: the connection closes while a handler runs.
	gone := dial(t, addr)
	gone.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/wait"), []byte("x")))
	<-started
	gone.conn.Close()
	// A cut answer closes its connection.
	cut := dial(t, addr)
	cut.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/short"), nil))
	cut.expectClosed()

	deadline := time.Now().Add(testTimeout)
	for (len(access) < 7 || s.Stats().RequestsInFlight > 0) && time.Now().Before(deadline) {
		select {
		case a := <-accessCh:
			access = append(access, a)
		case <-time.After(100 * time.Millisecond):
		}
	}
	st := s.Stats()
	for name, got := range map[string][2]int64{
		"completed":   {st.Outcomes["completed"], 3}, // /ok and /block twice
		"panicked":    {st.Outcomes["panicked"], 1},
		"aborted":     {st.Outcomes["aborted"], 1},
		"client_gone": {st.Outcomes["client_gone"], 1},
		"cut":         {st.Outcomes["cut"], 1},
		"overloaded":  {st.Refusals["overloaded"], 1},
		"header":      {st.Refusals["header_too_large"], 1},
		"body":        {st.Refusals["body_too_large"], 1},
		"in flight":   {st.RequestsInFlight, 0},
	} {
		if got[0] != got[1] {
			t.Errorf("%s = %d, want %d (%+v)", name, got[0], got[1], st)
		}
	}
	if st.Requests < 7 || st.ConnectionsAccepted < 3 || st.BytesIn == 0 || st.BytesOut == 0 {
		t.Errorf("totals: %+v", st)
	}
	if len(access) < 7 {
		t.Errorf("%d access records, want 7 or more", len(access))
	}

	rec := httptest.NewRecorder()
	s.StatusHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
	var status map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &status); err != nil {
		t.Fatal(err)
	}
	if status["requests_total"] != float64(st.Requests) || status["requests_in_flight"] != 0.0 {
		t.Errorf("/status: %s", rec.Body)
	}
	rec = httptest.NewRecorder()
	s.StatusHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "cgiref_requests_total{server=\"fcgi\"} ") ||
		!strings.Contains(rec.Body.String(), "cgiref_requests_in_flight{server=\"fcgi\"} 0\n") {
		t.Errorf("/metrics:\n%s", rec.Body)
	}
}

func TestRefusedAddressCounted(t *testing.T) {
	s := &Server{Handler: hello, AllowedAddrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	c := dial(t, startServer(t, s))
	c.send(requestBytes(1, roleResponder, flagKeepConn, getEnv("/"), nil))
	c.expectClosed()
	if n := s.Stats().Refusals["not_allowed"]; n != 1 {
		t.Errorf("not_allowed = %d", n)
	}
}

// TestPingWhenSaturated: the ping path is answered by the server itself
// while every request slot is taken by a stuck handler.
func TestPingWhenSaturated(t *testing.T) {
	bl := newBlocker()
	s := &Server{Handler: bl, MaxRequests: 1, PingPath: "/ping"}
	addr := startServer(t, s)
	c := dial(t, addr)
	c.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/block"), nil))
	waitFor(t, bl.started, "the stuck request")
	p := dial(t, addr)
	p.mustSend(requestBytes(1, roleResponder, 0, getEnv("/ping?full=1"), nil))
	if r := p.results(1)[1]; r.body() != "pong" || !strings.HasPrefix(r.head(), "Status: 200 OK") {
		t.Errorf("ping answered %q", r.stdout.String())
	}
	close(bl.release)
	c.results(1)
	if s.Stats().Pings != 1 {
		t.Errorf("pings = %d", s.Stats().Pings)
	}
}

//go:noinline
func slowHandlerUnderTest(w http.ResponseWriter, r *http.Request) {
	time.Sleep(300 * time.Millisecond)
	io.WriteString(w, "late")
}

// TestSlowRequestStack: a slow request is logged once with its handler's
// function in the stack.
func TestSlowRequestStack(t *testing.T) {
	logs := &syncWriter{w: new(bytes.Buffer)}
	s := &Server{Handler: http.HandlerFunc(slowHandlerUnderTest), SlowRequest: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, nil))}
	c := dial(t, startServer(t, s))
	c.mustSend(requestBytes(1, roleResponder, flagKeepConn, getEnv("/slow?q=1"), nil))
	if r := c.results(1)[1]; r.body() != "late" {
		t.Errorf("answered %q", r.stdout.String())
	}
	out := logs.String()
	if strings.Count(out, "slow request") != 1 || !strings.Contains(out, "slowHandlerUnderTest") || !strings.Contains(out, "uri=\"/slow?q=1\"") {
		t.Errorf("slow request log:\n%s", out)
	}
}

// TestErrorStreamPolicy: each policy sends the error stream where it says,
// and the automatic one keeps FCGI_STDERR away from IIS.
func TestErrorStreamPolicy(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(gateway.Errors(r), "app says hello\n")
		if r.URL.Path == "/panic" {
			panic("boom")
		}
	})
	iis := append(getEnv("/"), [2]string{"SERVER_SOFTWARE", "Microsoft-IIS/10.0"})
	for _, tt := range []struct {
		name           string
		policy         gateway.ErrorStream
		env            pairs
		stderr, logged bool
		panicOneRecord bool
	}{
		{"auto", gateway.ErrorsAuto, getEnv("/"), true, false, false},
		{"auto under IIS", gateway.ErrorsAuto, iis, false, true, true},
		{"web server", gateway.ErrorsToWebServer, iis, true, false, false},
		{"log", gateway.ErrorsToLog, getEnv("/"), false, true, true},
		{"discard", gateway.ErrorsDiscard, getEnv("/"), false, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logs := &syncWriter{w: new(bytes.Buffer)}
			c := dial(t, startServer(t, &Server{Handler: h, Errors: tt.policy, Logger: slog.New(slog.NewTextHandler(logs, nil))}))
			c.mustSend(requestBytes(1, roleResponder, flagKeepConn, tt.env, nil))
			r := c.results(1)[1]
			if got := strings.Contains(r.stderr.String(), "app says hello"); got != tt.stderr {
				t.Errorf("FCGI_STDERR %q", r.stderr.String())
			}
			if got := strings.Contains(logs.String(), "app says hello"); got != tt.logged {
				t.Errorf("log %q", logs.String())
			}
			env := append(pairs{}, tt.env...)
			env[1][1] = "/panic"
			c.mustSend(requestBytes(2, roleResponder, flagKeepConn, env, nil))
			c.results(2)
			if tt.panicOneRecord && strings.Count(logs.String(), "panic serving") != 1 {
				t.Errorf("the panic is not one record:\n%s", logs.String())
			}
			if tt.panicOneRecord && !strings.Contains(logs.String(), `goroutine `) {
				t.Errorf("the panic record has no stack:\n%s", logs.String())
			}
		})
	}
}

// TestBytesInCounted: the bytes of every record a request came in
// (header and content; padding is not counted) are in Stats once the read
// loop waits for more, counted once per socket read.
func TestBytesInCounted(t *testing.T) {
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	})}
	c := dial(t, startServer(t, s))
	b := requestBytes(1, roleResponder, flagKeepConn, postEnv("/", 5), []byte("hello"))
	var want int64
	for rest := b; len(rest) >= headerLen; {
		n := int(rest[4])<<8 | int(rest[5])
		want += int64(headerLen + n)
		rest = rest[headerLen+n+int(rest[6]):]
	}
	for range 3 {
		c.mustSend(b)
		c.results(1)
	}
	want *= 3
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().BytesIn != want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := s.Stats().BytesIn; got != want {
		t.Errorf("BytesIn = %d, want %d", got, want)
	}
}
