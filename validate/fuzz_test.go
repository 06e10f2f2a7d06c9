package validate

import (
	"io"
	"testing"

	"github.com/cgiref/cgiref/environ"
)

// FuzzCheckEnviron checks that any environ either passes or fails with a
// *Error, never another panic, and that what passes holds the rules.
func FuzzCheckEnviron(f *testing.F) {
	f.Add("GET", "", "/", "", "")
	f.Add("POST", "/app", "", "12", "a=b")
	f.Add("CONNECT", "/", "", "-1", "")
	f.Add("", "x", "y", "+5", "\x00")
	f.Fuzz(func(t *testing.T, method, script, pathInfo, length, query string) {
		env := environ.Environ{
			"REQUEST_METHOD": method, "SERVER_NAME": "h", "SERVER_PORT": "80",
			"SERVER_PROTOCOL": "HTTP/1.1", "SCRIPT_NAME": script, "PATH_INFO": pathInfo,
			"CONTENT_LENGTH": length, "QUERY_STRING": query,
		}
		var n int64
		func() {
			defer func() {
				if p := recover(); p != nil {
					if _, ok := p.(*Error); !ok {
						t.Fatalf("panic %T %v", p, p)
					}
					n = -2
				}
			}()
			n = checkEnviron(env, &reporter{w: io.Discard})
		}()
		if n == -2 {
			return
		}
		if script == "/" || (script == "" && pathInfo == "") ||
			(script != "" && script[0] != '/') || (pathInfo != "" && pathInfo[0] != '/') {
			t.Errorf("SCRIPT_NAME %q, PATH_INFO %q passed", script, pathInfo)
		}
		if (length == "") != (n == -1) || n < -1 {
			t.Errorf("CONTENT_LENGTH %q gave %d", length, n)
		}
	})
}
