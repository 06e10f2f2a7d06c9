//go:build windows

package transcode

import (
	"os"
	"syscall"

	"github.com/cgiref/cgiref/environ"
)

// ReadEnviron returns this process's environment as an environ, with the
// values of request variables turned back into bytes by the rule for the
// server in SERVER_SOFTWARE; servers of unknown habits are taken to use the
// system ANSI code page.
func ReadEnviron() environ.Environ {
	opts := Options{Windows: true}
	if cp, ok := CodePage(ansiCodePage()); ok {
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
