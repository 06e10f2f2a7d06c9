// Package wine tells whether the program runs under Wine, and gives tests
// the few tolerances Wine 8 needs. Three gaps of Wine 8 are tolerated, and
// only when running under Wine, never on a real Windows:
//
//   - os.RemoveAll fails with "Invalid function" (Wine does not know
//     FileDispositionInformationEx, which Go's RemoveAll uses);
//   - AF_UNIX sockets do not exist;
//   - WSADuplicateSocket is missing.
package wine

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Running reports whether this process runs under Wine rather than a real
// Windows. It is false on every other system.
func Running() bool { return running() }

// Artifact names of the tolerated Wine 8 gaps, as skip messages say them.
const (
	NoRemoveAll       = "Wine 8 artifact: os.RemoveAll fails with \"Invalid function\""
	NoUnixSockets     = "Wine 8 artifact: no AF_UNIX sockets"
	NoDuplicateSocket = "Wine 8 artifact: no WSADuplicateSocket"
)

// TempDir is t.TempDir, except under Wine, where the folder is removed file
// by file when os.RemoveAll fails with "Invalid function" (logged with the
// artifact's name). Anything else that fails the removal fails the test.
func TempDir(t testing.TB) string {
	t.Helper()
	if !Running() {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("", strings.NewReplacer("/", "_", "\\", "_").Replace(t.Name()))
	if err != nil {
		t.Fatalf("TempDir: %v", err)
	}
	t.Cleanup(func() {
		err := os.RemoveAll(dir)
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "Invalid function") {
			t.Errorf("TempDir cleanup: %v", err)
			return
		}
		t.Logf("%s; removing %s file by file", NoRemoveAll, dir)
		if err := removeEach(dir); err != nil {
			t.Errorf("TempDir cleanup: %v", err)
		}
	})
	return dir
}

// removeEach removes dir and everything below it with os.Remove, deepest
// first.
func removeEach(dir string) error {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range slices.Backward(paths) {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SkipUnixSockets skips t under Wine, where AF_UNIX sockets do not exist,
// when err is the failure to make one. Elsewhere it does nothing, and the
// caller fails on err as usual.
func SkipUnixSockets(t testing.TB, err error) {
	t.Helper()
	if UnixSocketsMissing(err) {
		t.Skipf("%s: %v", NoUnixSockets, err)
	}
}

// UnixSocketsMissing reports whether err is Wine's failure to make an
// AF_UNIX socket; false on every real Windows and elsewhere.
func UnixSocketsMissing(err error) bool {
	return err != nil && Running() && isNoAFUnix(err)
}

// SkipDuplicateSocket skips t under Wine when err is the failure of
// WSADuplicateSocket. Elsewhere it does nothing.
func SkipDuplicateSocket(t testing.TB, err error) {
	t.Helper()
	if err != nil && Running() {
		t.Skipf("%s: %v", NoDuplicateSocket, err)
	}
}
