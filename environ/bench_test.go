package environ

import (
	"net/http/cgi"
	"testing"
)

// nginxEnviron is what nginx's stock fastcgi_params send for a browser GET.
func nginxEnviron() Environ {
	return Environ{
		"QUERY_STRING": "page=2&sort=name", "REQUEST_METHOD": "GET", "CONTENT_TYPE": "",
		"CONTENT_LENGTH": "", "SCRIPT_NAME": "/app/items", "REQUEST_URI": "/app/items?page=2&sort=name",
		"DOCUMENT_URI": "/app/items", "DOCUMENT_ROOT": "/srv/www", "SERVER_PROTOCOL": "HTTP/1.1",
		"REQUEST_SCHEME": "https", "HTTPS": "on", "GATEWAY_INTERFACE": "CGI/1.1",
		"SERVER_SOFTWARE": "nginx/1.26.2", "REMOTE_ADDR": "203.0.113.9", "REMOTE_PORT": "51234",
		"SERVER_ADDR": "192.0.2.1", "SERVER_PORT": "443", "SERVER_NAME": "www.example.com",
		"REDIRECT_STATUS": "200", "SCRIPT_FILENAME": "/srv/www/app/items", "PATH_INFO": "",
		"HTTP_HOST":                      "www.example.com",
		"HTTP_USER_AGENT":                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
		"HTTP_ACCEPT":                    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
		"HTTP_ACCEPT_LANGUAGE":           "en-US,en;q=0.5",
		"HTTP_ACCEPT_ENCODING":           "gzip, deflate, br, zstd",
		"HTTP_CONNECTION":                "keep-alive",
		"HTTP_COOKIE":                    "session=abc123; theme=dark",
		"HTTP_UPGRADE_INSECURE_REQUESTS": "1",
		"HTTP_SEC_FETCH_DEST":            "document",
		"HTTP_SEC_FETCH_MODE":            "navigate",
		"HTTP_SEC_FETCH_SITE":            "none",
		"HTTP_PRIORITY":                  "u=0, i",
	}
}

// BenchmarkNewRequest compares NewRequest with net/http/cgi.RequestFromMap
// on the same environ.
func BenchmarkNewRequest(b *testing.B) {
	env := nginxEnviron()
	b.Run("environ", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := NewRequest(env, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("net-http-cgi", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cgi.RequestFromMap(env); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFromRequest measures the reverse direction.
func BenchmarkFromRequest(b *testing.B) {
	r, err := NewRequest(nginxEnviron(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		FromRequest(r)
	}
}

// wrkEnviron is what scripts/bench.sh's nginx sends for wrk's GET /: the
// stock parameters and one header field.
func wrkEnviron() Environ {
	return Environ{
		"CONTENT_LENGTH": "", "QUERY_STRING": "", "REQUEST_METHOD": "GET", "CONTENT_TYPE": "",
		"SCRIPT_NAME": "", "PATH_INFO": "/", "REQUEST_URI": "/", "DOCUMENT_URI": "/",
		"DOCUMENT_ROOT": "/usr/share/nginx/html", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_SCHEME": "http",
		"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "nginx/1.22.1", "REMOTE_ADDR": "127.0.0.1",
		"REMOTE_PORT": "50000", "SERVER_ADDR": "127.0.0.1", "SERVER_PORT": "10080", "SERVER_NAME": "",
		"HTTP_HOST": "127.0.0.1:10080",
	}
}

// BenchmarkNewRequestSmall measures NewRequest on the hello-world benchmark's
// environ (one header field).
func BenchmarkNewRequestSmall(b *testing.B) {
	env := wrkEnviron()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewRequest(env, nil); err != nil {
			b.Fatal(err)
		}
	}
}
