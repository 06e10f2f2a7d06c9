package main

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzFilesPath checks that no path, however encoded, serves a file outside
// the folder.
func FuzzFilesPath(f *testing.F) {
	for _, p := range []string{"/a.txt", "/../secret.txt", "/..\\secret.txt", "/dir-out/secret.txt",
		"/link-out", "//secret.txt", "/sub/../../secret.txt", "/./../secret.txt", "/sub/"} {
		f.Add(p)
	}
	dir, _ := filesTree(f)
	a, err := newFilesApp(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { a.Close() })
	f.Fuzz(func(t *testing.T, p string) {
		rec := httptest.NewRecorder()
		a.serve(rec, httptest.NewRequest("GET", "/", nil), p)
		if strings.Contains(rec.Body.String(), "secret") {
			t.Fatalf("path %q served the secret", p)
		}
	})
}
