//go:build windows

package transcode

import (
	"os"
	"syscall"

	"github.com/cgiref/cgiref/environ"
)

// ReadEnviron returns this process's environment as an environ, with the
// values of request variables turned back into bytes by the rule for the
// server in SERVER_SOFTWARE. Servers of unknown habits are taken to write
// UTF-8, unless the environment variable CGIREF_CODEPAGE (CodePageVar)
// selects the ANSI code page ("ansi") or another one ("1252", "932", ...).
func ReadEnviron() environ.Environ {
	opts := Options{Windows: true}
	if cp, ok := codePageSetting(os.Getenv(CodePageVar), ansiCodePage()); ok {
		opts.CodePage = cp
	}
	return Transcode(os.Environ(), opts)
}

// ansiCodePage returns the system ANSI code page number, 0 when unknown.
func ansiCodePage() int {
	proc := syscall.NewLazyDLL("kernel32.dll").NewProc("GetACP")
	if proc.Find() != nil {
		return 0
	}
	r, _, _ := proc.Call()
	return int(r)
}
