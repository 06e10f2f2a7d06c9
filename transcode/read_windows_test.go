package transcode

import (
	"os"
	"strconv"
	"testing"
)

// TestANSICodePage checks GetACP against CGIREF_TEST_ACP when the test
// runner sets it (scripts/wine.sh runs these tests with code pages 1252 and
// 932).
func TestANSICodePage(t *testing.T) {
	acp := ansiCodePage()
	if _, ok := CodePage(acp); !ok && acp != 0 {
		t.Logf("ANSI code page %d is not one CodePage knows", acp)
	}
	want := os.Getenv("CGIREF_TEST_ACP")
	if want == "" {
		t.Logf("ANSI code page %d (CGIREF_TEST_ACP not set)", acp)
		return
	}
	if strconv.Itoa(acp) != want {
		t.Fatalf("GetACP = %d, want %s", acp, want)
	}
}

// TestReadEnvironCodePage runs ReadEnviron on this process's Unicode
// environment with each CGIREF_CODEPAGE setting.
func TestReadEnvironCodePage(t *testing.T) {
	const path = "/café/日本" // as the OS environment holds it
	ansi := map[int]string{
		1252: "/caf\xe9/??",
		932:  "/caf?/\x93\xfa\x96\x7b",
	}
	tests := []struct {
		software, setting, want string
	}{
		{"", "", path},
		{"nginx/1.25", "", path},
		{"go", "utf-8", path},
		{"nginx/1.25", "1252", "/caf\xe9/??"},
		{"", "932", "/caf?/\x93\xfa\x96\x7b"},
		{"nginx/1.25", "bogus", path},
		{"Microsoft-IIS/10.0", "1252", path},
		{"Apache/2.4.58 (Win64)", "932", "/caf\xe9/??"},
	}
	if want, ok := ansi[ansiCodePage()]; ok {
		tests = append(tests, struct{ software, setting, want string }{"nginx", "ansi", want})
	} else {
		t.Logf("no expectation for ANSI code page %d: the \"ansi\" setting is not checked", ansiCodePage())
	}
	for _, tt := range tests {
		t.Run(tt.software+"/"+tt.setting, func(t *testing.T) {
			t.Setenv("SERVER_SOFTWARE", tt.software)
			if tt.software == "" {
				os.Unsetenv("SERVER_SOFTWARE")
			}
			t.Setenv(CodePageVar, tt.setting)
			t.Setenv("PATH_INFO", path)
			t.Setenv("REMOTE_USER", path)
			env := ReadEnviron()
			for _, k := range []string{"PATH_INFO", "REMOTE_USER"} {
				if env[k] != tt.want {
					t.Errorf("%s = %q, want %q", k, env[k], tt.want)
				}
			}
		})
	}
}
