//go:build integration

package integration

import (
	"net/url"
	"testing"
)

// TestSCGI runs the check app as an SCGI backend behind lighttpd's
// mod_scgi, nginx's scgi_pass and Apache's mod_proxy_scgi.
func TestSCGI(t *testing.T) {
	peers := []struct {
		name           string
		start          func(*testing.T) *server
		pathInfo       func(string) string
		refusesChunked bool
	}{
		{"lighttpd", startLighttpd, nil, false},
		{"nginx", startNginx, nil, false},
		// mod_proxy_scgi computes PATH_INFO (proxy-scgi-pathinfo) from the
		// URL it proxies to, which it has escaped again, and refuses a
		// chunked request body (AH01593).
		{"apache", func(t *testing.T) *server { return startApache(t, "event", "cgid") }, escapePath, true},
	}
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			runCommon(t, target{srv: p.start(t), script: "/scgi", pathInfo: p.pathInfo, refusesChunked: p.refusesChunked})
		})
	}
}

// escapePath escapes p as a URL path.
func escapePath(p string) string { return (&url.URL{Path: p}).EscapedPath() }
