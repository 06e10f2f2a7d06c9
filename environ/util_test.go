package environ

import (
	"maps"
	"testing"
)

func TestShiftPathInfo(t *testing.T) {
	tests := []struct {
		sn, pi       string
		name         string
		ok           bool
		snOut, piOut string
	}{
		// CPython test_wsgiref UtilityTests.testSimpleShifts
		{"", "/", "", true, "/", ""},
		{"", "/x", "x", true, "/x", ""},
		{"/", "", "", false, "/", ""},
		{"/a", "/x/y", "x", true, "/a/x", "/y"},
		{"/a", "/x/", "x", true, "/a/x", "/"},
		// testNormalizedShifts
		{"/a/b", "/../y", "..", true, "/a", "/y"},
		{"", "/../y", "..", true, "", "/y"},
		{"/a/b", "//y", "y", true, "/a/b/y", ""},
		{"/a/b", "//y/", "y", true, "/a/b/y", "/"},
		{"/a/b", "/./y", "y", true, "/a/b/y", ""},
		{"/a/b", "/./y/", "y", true, "/a/b/y", "/"},
		{"/a/b", "///./..//y/.//", "..", true, "/a", "/y/"},
		{"/a/b", "///", "", true, "/a/b/", ""},
		{"/a/b", "/.//", "", true, "/a/b/", ""},
		{"/a/b", "/x//", "x", true, "/a/b/x", "/"},
		{"/a/b", "/.", "", false, "/a/b", ""},
		// the rest of the reference table
		{"", "", "", false, "", ""},
		{"", "/.", "", false, "", ""},
		{"/a", "/./", "", true, "/a/", ""},
		{"/a", "/..", "..", true, "", ""},
		{"", "/../..", "..", true, "", "/.."},
		{"/a", "/..//", "..", true, "", "/"},
		{"/a", "/x/./y", "x", true, "/a/x", "/y"},
		{"/a", "/x/../y", "x", true, "/a/x", "/../y"},
		{"/a", "/x//y//", "x", true, "/a/x", "/y/"},
		{"/a/", "/x", "x", true, "/a/x", ""},
		{"/a//b", "/x", "x", true, "/a/b/x", ""},
		{"//a", "/x", "x", true, "//a/x", ""},
		{"///a", "/x", "x", true, "/a/x", ""},
		{"/", "/x", "x", true, "//x", ""},
		{"/", "/", "", true, "/", ""},
		{"/a/../b", "/x", "x", true, "/b/x", ""},
		{"", "/%2F", "%2F", true, "/%2F", ""},
		{"", "/...", "...", true, "/...", ""},
		// DESIGN.md: a PATH_INFO without a leading "/" changes nothing
		{"", "x/y", "", false, "", "x/y"},
		{"", "x", "", false, "", "x"},
		{"/s", ".", "", false, "/s", "."},
		// bytes are not text
		{"/\xe4", "/\xff\x00/z", "\xff\x00", true, "/\xe4/\xff\x00", "/z"},
	}
	for _, tt := range tests {
		env := Environ{"SCRIPT_NAME": tt.sn, "PATH_INFO": tt.pi}
		name, ok := ShiftPathInfo(env)
		if name != tt.name || ok != tt.ok || env["SCRIPT_NAME"] != tt.snOut || env["PATH_INFO"] != tt.piOut {
			t.Errorf("ShiftPathInfo(SN %q, PI %q) = %q, %v, SN %q, PI %q; want %q, %v, SN %q, PI %q",
				tt.sn, tt.pi, name, ok, env["SCRIPT_NAME"], env["PATH_INFO"],
				tt.name, tt.ok, tt.snOut, tt.piOut)
		}
	}
}

func TestShiftPathInfoRepeated(t *testing.T) {
	env := Environ{"SCRIPT_NAME": "", "PATH_INFO": "/a/b/"}
	want := []struct {
		name   string
		ok     bool
		sn, pi string
	}{
		{"a", true, "/a", "/b/"},
		{"b", true, "/a/b", "/"},
		{"", true, "/a/b/", ""},
		{"", false, "/a/b/", ""},
		{"", false, "/a/b/", ""},
	}
	for i, w := range want {
		name, ok := ShiftPathInfo(env)
		if name != w.name || ok != w.ok || env["SCRIPT_NAME"] != w.sn || env["PATH_INFO"] != w.pi {
			t.Errorf("shift %d = %q, %v, SN %q, PI %q; want %q, %v, SN %q, PI %q",
				i, name, ok, env["SCRIPT_NAME"], env["PATH_INFO"], w.name, w.ok, w.sn, w.pi)
		}
	}
}

func TestShiftPathInfoMissingKeys(t *testing.T) {
	env := Environ{}
	if name, ok := ShiftPathInfo(env); name != "" || ok || len(env) != 0 {
		t.Errorf("empty environ: %q, %v, env %v", name, ok, env)
	}
	env = Environ{"PATH_INFO": "/x"}
	if name, ok := ShiftPathInfo(env); name != "x" || !ok || env["SCRIPT_NAME"] != "/x" {
		t.Errorf("no SCRIPT_NAME: %q, %v, env %v", name, ok, env)
	}
}

func TestNormpath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "."}, {"/", "/"}, {"//", "//"}, {"///", "/"}, {"//x", "//x"}, {"///x", "/x"},
		{"a/./b", "a/b"}, {"a/../b", "b"}, {"../a", "../a"}, {"../../a", "../../a"},
		{"a/../..", ".."}, {"/..", "/"}, {"/../a", "/a"}, {"a/", "a"}, {".", "."},
		{"./", "."}, {"a//b", "a/b"}, {"//..", "//"}, {"/a/b/../../..", "/"},
	}
	for _, tt := range tests {
		if got := normpath(tt.in); got != tt.want {
			t.Errorf("normpath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSetupTestingDefaults(t *testing.T) {
	// CPython testDefaults
	env := Environ{}
	SetupTestingDefaults(env)
	want := Environ{
		"SERVER_NAME": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.0", "HTTP_HOST": "127.0.0.1",
		"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/", "SERVER_PORT": "80",
	}
	if !maps.Equal(env, want) {
		t.Errorf("defaults = %v, want %v", env, want)
	}
	// every default yields to a value already present, even an empty one
	for k := range want {
		env := Environ{k: "preset"}
		SetupTestingDefaults(env)
		if env[k] != "preset" {
			t.Errorf("%s overwritten: %q", k, env[k])
		}
	}
}

func TestSetupTestingDefaultsCross(t *testing.T) {
	// CPython testCrossDefaults, and the SCRIPT_NAME/PATH_INFO rule
	tests := []struct {
		in        Environ
		key, want string
		absent    bool
	}{
		{in: Environ{"SERVER_NAME": "foo.bar"}, key: "HTTP_HOST", want: "foo.bar"},
		{in: Environ{"HTTPS": "on"}, key: "SERVER_PORT", want: "443"},
		{in: Environ{"HTTPS": "1"}, key: "SERVER_PORT", want: "443"},
		{in: Environ{"HTTPS": "yes"}, key: "SERVER_PORT", want: "443"},
		{in: Environ{"HTTPS": "ON"}, key: "SERVER_PORT", want: "443"},
		{in: Environ{"HTTPS": "foo"}, key: "SERVER_PORT", want: "80"},
		{in: Environ{"SCRIPT_NAME": "/s"}, key: "PATH_INFO", absent: true},
		{in: Environ{"PATH_INFO": "/p"}, key: "SCRIPT_NAME", absent: true},
		{in: Environ{"PATH_INFO": ""}, key: "SCRIPT_NAME", absent: true},
	}
	for _, tt := range tests {
		env := maps.Clone(tt.in)
		SetupTestingDefaults(env)
		got, ok := env[tt.key]
		if tt.absent {
			if ok {
				t.Errorf("%v: %s = %q, want absent", tt.in, tt.key, got)
			}
		} else if got != tt.want {
			t.Errorf("%v: %s = %q, want %q", tt.in, tt.key, got, tt.want)
		}
	}
}

func TestGuessScheme(t *testing.T) {
	tests := []struct {
		https string
		set   bool
		want  string
	}{
		{"", false, "http"}, {"foo", true, "http"}, {"on", true, "https"}, {"1", true, "https"},
		{"yes", true, "https"}, {"ON", true, "https"}, {"Yes", true, "https"}, {"oN", true, "https"},
		{"true", true, "http"}, {"0", true, "http"}, {"off", true, "http"}, {"", true, "http"},
		{" on", true, "http"}, {"01", true, "http"},
	}
	for _, tt := range tests {
		env := Environ{}
		if tt.set {
			env["HTTPS"] = tt.https
		}
		if got := GuessScheme(env); got != tt.want {
			t.Errorf("GuessScheme(HTTPS %q, set %v) = %q, want %q", tt.https, tt.set, got, tt.want)
		}
	}
}

func TestApplicationURI(t *testing.T) {
	// CPython testAppURIs; each environ first gets the testing defaults
	tests := []struct {
		env  Environ
		want string
	}{
		{Environ{}, "http://127.0.0.1/"},
		{Environ{"SCRIPT_NAME": "/spam"}, "http://127.0.0.1/spam"},
		{Environ{"SCRIPT_NAME": "/sp\xe4m"}, "http://127.0.0.1/sp%E4m"},
		{Environ{"HTTP_HOST": "spam.example.com:2071", "SERVER_PORT": "2071"}, "http://spam.example.com:2071/"},
		{Environ{"SERVER_NAME": "spam.example.com"}, "http://spam.example.com/"},
		{Environ{"HTTP_HOST": "127.0.0.1", "SERVER_NAME": "spam.example.com"}, "http://127.0.0.1/"},
		{Environ{"HTTPS": "on"}, "https://127.0.0.1/"},
		{Environ{"SERVER_PORT": "8000", "HTTP_HOST": ""}, "http://127.0.0.1:8000/"},
		// port rules: string comparison, per scheme
		{Environ{"HTTP_HOST": "", "HTTPS": "on", "SERVER_PORT": "443"}, "https://127.0.0.1/"},
		{Environ{"HTTP_HOST": "", "HTTPS": "on", "SERVER_PORT": "80"}, "https://127.0.0.1:80/"},
		{Environ{"HTTP_HOST": "", "SERVER_PORT": "443"}, "http://127.0.0.1:443/"},
		{Environ{"HTTP_HOST": "", "SERVER_PORT": "0443", "HTTPS": "on"}, "https://127.0.0.1:0443/"},
		{Environ{"HTTP_HOST": "", "SERVER_PORT": "080"}, "http://127.0.0.1:080/"},
		{Environ{"SCRIPT_NAME": "/a b?c#d%e;f=g"}, "http://127.0.0.1/a%20b%3Fc%23d%25e%3Bf%3Dg"},
		{Environ{"SCRIPT_NAME": "/x/"}, "http://127.0.0.1/x/"},
	}
	for _, tt := range tests {
		env := maps.Clone(tt.env)
		SetupTestingDefaults(env)
		if got := ApplicationURI(env); got != tt.want {
			t.Errorf("ApplicationURI(%v) = %q, want %q", tt.env, got, tt.want)
		}
	}
}

func TestRequestURI(t *testing.T) {
	// CPython testReqURIs, then the reference's quoting and slicing rules
	tests := []struct {
		env   Environ
		query bool
		want  string
	}{
		{Environ{}, true, "http://127.0.0.1/"},
		{Environ{"SCRIPT_NAME": "/spam"}, true, "http://127.0.0.1/spam"},
		{Environ{"SCRIPT_NAME": "/sp\xe4m"}, true, "http://127.0.0.1/sp%E4m"},
		{Environ{"SCRIPT_NAME": "/spammity", "PATH_INFO": "/spam"}, true, "http://127.0.0.1/spammity/spam"},
		{Environ{"SCRIPT_NAME": "/spammity", "PATH_INFO": "/sp\xe4m"}, true, "http://127.0.0.1/spammity/sp%E4m"},
		{Environ{"SCRIPT_NAME": "/spammity", "PATH_INFO": "/spam;ham"}, true, "http://127.0.0.1/spammity/spam;ham"},
		{Environ{"SCRIPT_NAME": "/spammity", "PATH_INFO": "/spam;cookie=1234,5678"}, true, "http://127.0.0.1/spammity/spam;cookie=1234,5678"},
		{Environ{"SCRIPT_NAME": "/spammity", "PATH_INFO": "/spam", "QUERY_STRING": "say=ni"}, true, "http://127.0.0.1/spammity/spam?say=ni"},
		{Environ{"SCRIPT_NAME": "/spammity", "PATH_INFO": "/spam", "QUERY_STRING": "s%E4y=ni"}, true, "http://127.0.0.1/spammity/spam?s%E4y=ni"},
		{Environ{"SCRIPT_NAME": "/spammity", "PATH_INFO": "/spam", "QUERY_STRING": "say=ni"}, false, "http://127.0.0.1/spammity/spam"},
		{Environ{"PATH_INFO": "/a b?c#d%e;f=g,h:i@j&k+l$m!n~o*p'q(r)s"}, true,
			"http://127.0.0.1/a%20b%3Fc%23d%25e;f=g,h%3Ai%40j%26k%2Bl%24m%21n~o%2Ap%27q%28r%29s"},
		{Environ{"SCRIPT_NAME": "", "PATH_INFO": "foo"}, true, "http://127.0.0.1/oo"},
		{Environ{"SCRIPT_NAME": "/x/", "PATH_INFO": "/y"}, true, "http://127.0.0.1/x//y"},
		{Environ{"SCRIPT_NAME": "/x", "PATH_INFO": ""}, true, "http://127.0.0.1/x"},
		{Environ{"PATH_INFO": "/p", "QUERY_STRING": "a b=\xe9"}, true, "http://127.0.0.1/p?a b=\xe9"},
		{Environ{"PATH_INFO": "/p", "QUERY_STRING": ""}, true, "http://127.0.0.1/p"},
		{Environ{"PATH_INFO": "/\x00\x7f\x80\xff"}, true, "http://127.0.0.1/%00%7F%80%FF"},
	}
	for _, tt := range tests {
		env := maps.Clone(tt.env)
		SetupTestingDefaults(env)
		if got := RequestURI(env, tt.query); got != tt.want {
			t.Errorf("RequestURI(%v, %v) = %q, want %q", tt.env, tt.query, got, tt.want)
		}
	}
}
