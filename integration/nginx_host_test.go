//go:build integration

package integration

import (
	"net/http"
	"os"
	"regexp"
	"strconv"
	"testing"
)

// TestNginxHostPort checks what docs/nginx.md says of HTTP_HOST: with
// cgiref_fastcgi_params and cgiref_scgi_params (no HTTP_HOST line) the
// application sees the client's Host field, port included; with Debian's
// stock fastcgi_params (HTTP_HOST $host) the port is lost.
func TestNginxHostPort(t *testing.T) {
	srv := startNginx(t)
	withPort := "127.0.0.1:" + strconv.Itoa(srv.conf.Port)
	for _, tc := range []struct {
		script, host string
	}{
		{"/fcgi-tcp", withPort},
		{"/fcgi-keep", withPort},
		{"/scgi", withPort},
		{"/fcgi-unix", stockHost(t, withPort)},
	} {
		t.Run(tc.script[1:], func(t *testing.T) {
			resp, body := send(t, "GET", srv.base+tc.script+"/host", nil, http.Header{})
			wantStatus(t, resp, 200, body)
			wantLines(t, body, map[string]string{"HTTP_HOST": tc.host})
		})
	}
}

// stockHost is the HTTP_HOST nginx sends with /etc/nginx/fastcgi_params:
// Debian's has HTTP_HOST $host (no port); nginx's own has no such line.
func stockHost(t *testing.T, withPort string) string {
	t.Helper()
	b, err := os.ReadFile("/etc/nginx/fastcgi_params")
	mustDo(t, err)
	if regexp.MustCompile(`(?m)^\s*fastcgi_param\s+HTTP_HOST\s+\$host;`).Match(b) {
		return "127.0.0.1"
	}
	return withPort
}
