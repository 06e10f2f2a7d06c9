//go:build integration

package integration

import "testing"

// TestCGI runs the check app as a CGI program under Apache's mod_cgi
// (prefork), Apache's mod_cgid (event; it writes the whole request body
// before it reads any output) and lighttpd's mod_cgi.
func TestCGI(t *testing.T) {
	peers := []struct {
		name   string
		start  func(*testing.T) *server
		script string // /cgi/check runs `cgiref cgi`, /cgi/auto plain cgiref
	}{
		{"apache-mod_cgi", func(t *testing.T) *server { return startApache(t, "prefork", "cgi") }, "/cgi/check"},
		{"apache-mod_cgid", func(t *testing.T) *server { return startApache(t, "event", "cgid") }, "/cgi/auto"},
		{"lighttpd-mod_cgi", startLighttpd, "/cgi/auto"},
	}
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			tg := target{srv: p.start(t), script: p.script}
			t.Run("get", func(t *testing.T) { checkGet(t, tg) })
			t.Run("utf8-path", func(t *testing.T) { checkUTF8Path(t, tg) })
			for _, n := range []int{0, 1, 1 * mib} {
				t.Run("echo-"+sizeName(n), func(t *testing.T) { checkEcho(t, tg, n) })
			}
			t.Run("echo-chunked", func(t *testing.T) { checkEchoChunked(t, tg, 64*kib) })
			t.Run("status", func(t *testing.T) { checkStatus(t, tg) })
			t.Run("files", func(t *testing.T) { checkFiles(t, tg) })
			t.Run("panic", func(t *testing.T) { checkPanicLogged(t, tg) })
		})
	}
}
