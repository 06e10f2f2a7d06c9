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

func TestWriteRecord(t *testing.T) {
	var buf bytes.Buffer
	w := New(slog.New(slog.NewTextHandler(&buf, nil)), "app output")
	w.Write([]byte("partial"))
	w.WriteRecord([]byte("gateway: panic serving GET /: boom\ngoroutine 7 [running]:\nmain.handler()\n"))
	w.Close()
	if n := strings.Count(buf.String(), "msg="); n != 2 {
		t.Errorf("%d records, want 2 (the partial line, then the whole report):\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), `line="gateway: panic serving GET /: boom\ngoroutine 7 [running]:\nmain.handler()"`) {
		t.Errorf("the report is not one record:\n%s", buf.String())
	}
}
