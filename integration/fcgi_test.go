//go:build integration

package integration

import (
	"net/http"
	"testing"
)

// TestFastCGI runs the check app as a FastCGI responder behind nginx (TCP,
// unix socket, keep-alive upstream), lighttpd (spawning cgiref with the
// listening socket on fd 0; a running backend), Apache (mod_proxy_fcgi;
// mod_fcgid spawning cgiref) and Caddy (reverse_proxy with the FastCGI
// transport; php_fastcgi).
func TestFastCGI(t *testing.T) {
	peers := []struct {
		name        string
		start       func(*testing.T) *server
		scripts     []string // one target per SCRIPT_NAME
		dropsStderr bool
	}{
		{"nginx", startNginx, []string{"/fcgi-tcp", "/fcgi-unix", "/fcgi-keep"}, false},
		{"lighttpd", startLighttpd, []string{"/fcgi", "/fcgi-tcp"}, false},
		{"apache", func(t *testing.T) *server { return startApache(t, "event", "cgid") }, []string{"/fcgi", "/fcgid"}, false},
		// Caddy 2.6 logs none of FCGI_STDERR here, capture_stderr or not.
		{"caddy", startCaddy, []string{"/fcgi", "/php"}, true},
	}
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			srv := p.start(t)
			for _, script := range p.scripts {
				tg := target{srv: srv, script: script, dropsStderr: p.dropsStderr}
				t.Run(script[1:], func(t *testing.T) {
					runCommon(t, tg)
					t.Run("stream", func(t *testing.T) { checkStream(t, tg) })
				})
			}
		})
	}
}

// TestLighttpdAuthorizer puts the check app as a FastCGI authorizer in front
// of a static file: the file is served only when the app says 200.
func TestLighttpdAuthorizer(t *testing.T) {
	srv := startLighttpd(t)
	url := srv.base + "/auth"
	t.Run("allowed", func(t *testing.T) {
		resp, body := send(t, "GET", url, nil, http.Header{"X-Auth": {"ok"}})
		wantStatus(t, resp, 200, body)
		if string(body) != secretText {
			t.Errorf("body %q, want the file's %q", body, secretText)
		}
	})
	t.Run("refused", func(t *testing.T) {
		resp, body := send(t, "GET", url, nil, nil)
		wantStatus(t, resp, 403, body)
		if string(body) == secretText {
			t.Errorf("the protected file was served")
		}
	})
	t.Run("refused-post", func(t *testing.T) {
		resp, body := send(t, "POST", url, []byte("a body the authorizer never reads"), nil)
		wantStatus(t, resp, 403, body)
	})
}
