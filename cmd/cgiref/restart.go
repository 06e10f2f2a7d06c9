package main

import (
	"flag"
	"os"
	"strconv"
	"strings"
)

// The pid file of fcgi and scgi (-pid-file): the id of the process that
// serves now, for `kill -HUP $(cat FILE)` and for service managers that
// follow a PIDFile. After a SIGHUP hand-over (restart_unix.go) the new
// process has written its own id before the old one stops.

// writePIDFile writes this process's id to path atomically; "" writes
// nothing.
func writePIDFile(path string) error {
	if path == "" {
		return nil
	}
	tmp := path + ".tmp." + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// removePIDFile removes the pid file at path while it holds this process's
// id (a newer process may have written its own).
func removePIDFile(path string) {
	if path == "" {
		return
	}
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(os.Getpid()) {
		os.Remove(path)
	}
}

// pidFileFlag registers -pid-file on fs.
func pidFileFlag(fs *flag.FlagSet) *string {
	return fs.String("pid-file", "", "write the serving process's id to `FILE` (rewritten by the new process after a SIGHUP hand-over; removed at exit)")
}
