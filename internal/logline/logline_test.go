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

// countingSource counts how often its attributes are asked for.
type countingSource struct{ asked int }

func (s *countingSource) LogAttrs() []any { s.asked++; return []any{"remote", "192.0.2.1:5"} }

// TestWriterInit: a Writer prepared with Init asks its AttrSource only
// when it logs its first line, and once.
func TestWriterInit(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	var w Writer
	src := &countingSource{}
	w.Init(log, "app output", src)
	w.Close()
	if src.asked != 0 || buf.Len() != 0 {
		t.Fatalf("a silent stream asked for its attributes %d times and logged %q", src.asked, buf.String())
	}
	w.Write([]byte("one\ntwo"))
	w.Close()
	want := "level=WARN msg=\"app output\" remote=192.0.2.1:5 line=one\nlevel=WARN msg=\"app output\" remote=192.0.2.1:5 line=two\n"
	if buf.String() != want || src.asked != 1 {
		t.Errorf("logged %q (attributes asked %d times), want %q (once)", buf.String(), src.asked, want)
	}
}
