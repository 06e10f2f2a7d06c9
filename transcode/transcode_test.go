package transcode

import (
	"reflect"
	"strings"
	"testing"

	"github.com/cgiref/cgiref/environ"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
)

func TestTranscodeSplit(t *testing.T) {
	tests := []struct {
		name string
		vars []string
		want environ.Environ
	}{
		{"plain", []string{"A=1", "B=x=y", "C="}, environ.Environ{"A": "1", "B": "x=y", "C": ""}},
		{"no equals skipped", []string{"NOEQ", "", "D=4"}, environ.Environ{"D": "4"}},
		{"windows drive entry", []string{"=C:=C:\\dir", "=ExitCode=00000000"}, environ.Environ{"=C:": "C:\\dir", "=ExitCode": "00000000"}},
		{"lone equals skipped", []string{"=", "=x"}, environ.Environ{}},
		{"last wins", []string{"A=1", "A=2"}, environ.Environ{"A": "2"}},
	}
	for _, tt := range tests {
		for _, win := range []bool{false, true} {
			got := Transcode(tt.vars, Options{Windows: win})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s (windows %v): got %q, want %q", tt.name, win, got, tt.want)
			}
		}
	}
}

func TestTranscodeServers(t *testing.T) {
	const cafeText = "café"        // what a Unicode OS environment holds
	const cafeLatin1Text = "cafÃ©" // Apache: the UTF-8 bytes decoded as latin-1
	const cafeUTF8 = "caf\xc3\xa9" // the bytes the client sent
	const nihon = "日本"
	sjis := "\x93\xfa\x96\x7b"
	tests := []struct {
		name     string
		software string
		cp       encoding.Encoding
		value    string
		want     string
	}{
		{"iis keeps utf-8", "Microsoft-IIS/10.0", nil, cafeText, cafeUTF8},
		{"iis lower case", "microsoft-iis/8.5", nil, nihon, nihon},
		{"python simplehttp keeps", "SimpleHTTP/0.6 Python/3.12.1", nil, cafeText, cafeUTF8},
		{"python 2 simplehttp is unknown: utf-8", "SimpleHTTP/0.6 Python/2.7.18", nil, cafeText, cafeUTF8},
		{"python 2 simplehttp with 1252 selected", "SimpleHTTP/0.6 Python/2.7.18", charmap.Windows1252, cafeText, "caf\xe9"},
		{"iis ignores the selected code page", "Microsoft-IIS/10.0", charmap.Windows1252, cafeText, cafeUTF8},
		{"apache ignores the selected code page", "Apache/2.4", japanese.ShiftJIS, cafeLatin1Text, cafeUTF8},
		{"apache latin-1", "Apache/2.4.58 (Win64)", nil, cafeLatin1Text, cafeUTF8},
		{"apache rune above U+00FF", "Apache/2.4", nil, "a€b", "a?b"},
		{"apache high latin-1", "apache/2.2", nil, "\u00ff\u0000", "\xff\x00"},
		{"unknown server utf-8", "nginx/1.25", nil, cafeText, cafeUTF8},
		{"go's cgi host utf-8", "go", nil, nihon, nihon},
		{"no server utf-8", "", nil, cafeText, cafeUTF8},
		{"utf-8 selected", "nginx", unicode.UTF8, cafeText, cafeUTF8},
		{"unknown server 1252", "nginx/1.25", charmap.Windows1252, cafeText, "caf\xe9"},
		{"no server 1252", "", charmap.Windows1252, cafeText, "caf\xe9"},
		{"1252 euro", "lighttpd/1.4", charmap.Windows1252, "€", "\x80"},
		{"1252 unencodable", "nginx", charmap.Windows1252, "a日b", "a?b"},
		{"no server 932", "", japanese.ShiftJIS, nihon, sjis},
		{"932 shift_jis", "nginx", japanese.ShiftJIS, nihon, sjis},
		{"932 unencodable", "nginx", japanese.ShiftJIS, "日\u0e01本", "\x93\xfa?\x96\x7b"},
		{"1251 cyrillic", "nginx", charmap.Windows1251, "Жa", "\xc6a"},
		{"874 thai", "nginx", charmap.Windows874, "\u0e01é", "\xa1?"},
	}
	keys := []string{"PATH_INFO", "HTTP_X_NAME", "REDIRECT_QUERY_STRING"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := []string{"SERVER_SOFTWARE=" + tt.software, "REMOTE_ADDR=" + tt.value}
			for _, k := range keys {
				vars = append(vars, k+"="+tt.value)
			}
			env := Transcode(vars, Options{Windows: true, CodePage: tt.cp})
			for _, k := range keys {
				if env[k] != tt.want {
					t.Errorf("%s = %q, want %q", k, env[k], tt.want)
				}
			}
			if env["REMOTE_ADDR"] != tt.value {
				t.Errorf("REMOTE_ADDR = %q, want it untouched %q", env["REMOTE_ADDR"], tt.value)
			}
			if env["SERVER_SOFTWARE"] != tt.software {
				t.Errorf("SERVER_SOFTWARE = %q", env["SERVER_SOFTWARE"])
			}
			posix := Transcode(vars, Options{CodePage: tt.cp})
			for _, k := range keys {
				if posix[k] != tt.value {
					t.Errorf("POSIX %s = %q, want it byte for byte %q", k, posix[k], tt.value)
				}
			}
		})
	}
}

func TestUntouchedKeys(t *testing.T) {
	for _, k := range []string{"REMOTE_ADDR", "SERVER_NAME", "REQUEST_URI", "SERVER_SOFTWARE", "DOCUMENT_ROOT", "PATH_TRANSLATED", "GATEWAY_INTERFACE", "REMOTE_HOST", "http_host", "Path"} {
		env := Transcode([]string{"SERVER_SOFTWARE=nginx", k + "=café"}, Options{Windows: true})
		if k != "SERVER_SOFTWARE" && env[k] != "café" {
			t.Errorf("%s = %q, want it untouched", k, env[k])
		}
	}
}

func TestNeedsTranscode(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"SCRIPT_NAME", true}, {"PATH_INFO", true}, {"QUERY_STRING", true},
		{"REQUEST_METHOD", true}, {"AUTH_TYPE", true}, {"CONTENT_TYPE", true},
		{"CONTENT_LENGTH", true}, {"HTTPS", true}, {"REMOTE_USER", true},
		{"REMOTE_IDENT", true}, {"HTTP_HOST", true}, {"HTTP_", true},
		{"HTTP_X_ANYTHING", true}, {"SSL_CLIENT_S_DN", true}, {"SSL_", true},
		{"REDIRECT_PATH_INFO", true}, {"REDIRECT_REDIRECT_QUERY_STRING", true},
		{"REDIRECT_HTTP_COOKIE", true}, {"REDIRECT_SSL_PROTOCOL", true},
		{"REDIRECT_REDIRECT_REDIRECT_HTTPS", true},
		{"REDIRECT_", false}, {"REDIRECT_STATUS", false}, {"REDIRECT_URL", false},
		{"REDIRECT_REDIRECT_", false}, {"REDIRECT_REMOTE_ADDR", false},
		{"REMOTE_ADDR", false}, {"SERVER_NAME", false}, {"REQUEST_URI", false},
		{"SERVER_SOFTWARE", false}, {"PATH_TRANSLATED", false}, {"HTTP", false},
		{"http_host", false}, {"Path_Info", false}, {"path_info", false},
		{"SSL", false}, {"", false}, {"XHTTP_HOST", false}, {"HTTPS_X", false},
	}
	for _, tt := range tests {
		if got := NeedsTranscode(tt.key); got != tt.want {
			t.Errorf("NeedsTranscode(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

func TestLatin1(t *testing.T) {
	tests := []struct{ bytes, text string }{
		{"", ""},
		{"abc", "abc"},
		{"caf\xc3\xa9", "cafÃ©"},
		{"\x00\x7f\x80\xff", "\u0000\u007f\u0080\u00ff"},
	}
	for _, tt := range tests {
		if got := ToLatin1Text(tt.bytes); got != tt.text {
			t.Errorf("ToLatin1Text(%q) = %q, want %q", tt.bytes, got, tt.text)
		}
		got, err := FromLatin1Text(tt.text)
		if err != nil || got != tt.bytes {
			t.Errorf("FromLatin1Text(%q) = %q, %v; want %q", tt.text, got, err, tt.bytes)
		}
	}
	bad := []struct{ text, errWant string }{
		{"a€", "U+20AC at byte 1"},
		{"日本", "U+65E5 at byte 0"},
		{"ab\xff", "invalid UTF-8 at byte 2"},
		{"\xc3", "invalid UTF-8 at byte 0"},
	}
	for _, tt := range bad {
		got, err := FromLatin1Text(tt.text)
		if err == nil || !strings.Contains(err.Error(), tt.errWant) || !strings.HasPrefix(err.Error(), "transcode: ") {
			t.Errorf("FromLatin1Text(%q) = %q, %v; want error with %q", tt.text, got, err, tt.errWant)
		}
	}
	// U+FFFD written out is a rune above U+00FF, not invalid UTF-8.
	if _, err := FromLatin1Text("\uFFFD"); err == nil || !strings.Contains(err.Error(), "U+FFFD") {
		t.Errorf("FromLatin1Text(U+FFFD) error = %v", err)
	}
}

func FuzzLatin1(f *testing.F) {
	f.Add("caf\xc3\xa9")
	f.Add("\x00\xff")
	f.Fuzz(func(t *testing.T, b string) {
		got, err := FromLatin1Text(ToLatin1Text(b))
		if err != nil || got != b {
			t.Fatalf("round trip of %q gave %q, %v", b, got, err)
		}
	})
}

func TestCodePage(t *testing.T) {
	tests := []struct {
		id   int
		in   string
		want string
	}{
		{874, "\u0e01", "\xa1"},
		{932, "日本", "\x93\xfa\x96\x7b"},
		{936, "中", "\xd6\xd0"},
		{949, "한", "\xc7\xd1"},
		{950, "中", "\xa4\xa4"},
		{1250, "ő", "\xf5"},
		{1251, "Ж", "\xc6"},
		{1252, "é€", "\xe9\x80"},
		{1253, "Ω", "\xd9"},
		{1254, "ğ", "\xf0"},
		{1255, "א", "\xe0"},
		{1256, "ع", "\xda"},
		{1257, "ą", "\xe0"},
		{1258, "₫", "\xfe"},
		{65001, "café", "caf\xc3\xa9"},
	}
	for _, tt := range tests {
		enc, ok := CodePage(tt.id)
		if !ok || enc == nil {
			t.Errorf("CodePage(%d) unknown", tt.id)
			continue
		}
		got, err := enc.NewEncoder().String(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("CodePage(%d) encodes %q as %q, %v; want %q", tt.id, tt.in, got, err, tt.want)
		}
	}
	for _, id := range []int{0, 437, 850, 1200, 1249, 1259, 20127, 65000, -1} {
		if enc, ok := CodePage(id); ok || enc != nil {
			t.Errorf("CodePage(%d) = %v, %v; want unknown", id, enc, ok)
		}
	}
}

func TestReadEnviron(t *testing.T) {
	t.Setenv("CGIREF_TEST_VAR", "a=b")
	env := ReadEnviron()
	if got := env["CGIREF_TEST_VAR"]; got != "a=b" {
		t.Fatalf("CGIREF_TEST_VAR = %q, want %q", got, "a=b")
	}
}

func TestCodePageSetting(t *testing.T) {
	tests := []struct {
		value string
		acp   int
		want  encoding.Encoding // nil: UTF-8
		ok    bool
	}{
		{"", 1252, nil, true},
		{"utf-8", 932, nil, true},
		{"UTF8", 932, nil, true},
		{"65001", 1252, nil, true},
		{"ansi", 1252, charmap.Windows1252, true},
		{"ANSI", 932, japanese.ShiftJIS, true},
		{"acp", 1251, charmap.Windows1251, true},
		{"ansi", 65001, nil, true},
		{"ansi", 437, nil, false}, // an ANSI code page CodePage does not know
		{"1252", 932, charmap.Windows1252, true},
		{" 932 ", 1252, japanese.ShiftJIS, true},
		{"cp936", 1252, simplifiedchinese.GBK, true},
		{"437", 1252, nil, false},
		{"latin1", 1252, nil, false},
		{"-1", 1252, nil, false},
	}
	for _, tt := range tests {
		got, ok := codePageSetting(tt.value, tt.acp)
		if got != tt.want || ok != tt.ok {
			t.Errorf("codePageSetting(%q, %d) = %v, %v; want %v, %v", tt.value, tt.acp, got, ok, tt.want, tt.ok)
		}
	}
}
