//go:build !windows

package transcode

import (
	"os"

	"github.com/cgiref/cgiref/environ"
)

// ReadEnviron returns this process's environment as an environ. On POSIX
// systems values are kept byte for byte (CGIREF_CODEPAGE matters only on
// Windows).
func ReadEnviron() environ.Environ {
	return Transcode(os.Environ(), Options{})
}
