package logline

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	w := New(log, "app output", "request", 7)
	for _, s := range []string{"first li", "ne\r\nsecond\n", "", "\nthird"} {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	w.Close()
	want := strings.Join([]string{
		`level=WARN msg="app output" request=7 line="first line"`,
		`level=WARN msg="app output" request=7 line=second`,
		`level=WARN msg="app output" request=7 line=third`,
	}, "\n") + "\n"
	if buf.String() != want {
		t.Errorf("log\n%s\nwant\n%s", buf.String(), want)
	}
}
