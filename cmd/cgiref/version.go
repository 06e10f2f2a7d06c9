package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// versionString describes the build: the main module's path and version,
// the VCS revision and time when the build recorded them, and the Go
// version.
func versionString(info *debug.BuildInfo, ok bool) string {
	if !ok || info == nil {
		return "cgiref (unknown version: no build information)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	parts := []string{"cgiref", v}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		r := "rev " + rev
		if t := settings["vcs.time"]; t != "" {
			r += " " + t
		}
		if settings["vcs.modified"] == "true" {
			r += " modified"
		}
		parts = append(parts, r)
	}
	if info.GoVersion != "" {
		parts = append(parts, info.GoVersion)
	}
	return strings.Join(parts, " ")
}

// printVersion writes the version line of this build.
func printVersion(w io.Writer) {
	fmt.Fprintln(w, versionString(debug.ReadBuildInfo()))
}
