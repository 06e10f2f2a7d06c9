package wine

import (
	"errors"
	"sync"
	"syscall"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// running is decided once: Wine creates HKLM\Software\Wine in every prefix,
// and its ntdll exports wine_get_version, which no Windows ntdll has.
var running = sync.OnceValue(func() bool {
	if k, err := registry.OpenKey(registry.LOCAL_MACHINE, `Software\Wine`, registry.QUERY_VALUE); err == nil {
		k.Close()
		return true
	}
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
})

// wsaeAFNoSupport is WSAEAFNOSUPPORT, Wine's answer to socket(AF_UNIX, ...).
const wsaeAFNoSupport syscall.Errno = 10047

func isNoAFUnix(err error) bool { return errors.Is(err, wsaeAFNoSupport) }
