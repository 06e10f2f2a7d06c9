package ratelog_test

import (
	"log/slog"
	"os"

	"github.com/cgiref/cgiref/internal/ratelog"
)

func Example() {
	// A text logger without times, for a stable output.
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	log := ratelog.New(slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime})), nil)
	defer log.Close()

	for i := range 2000 {
		log.Warn("fcgi: connection timed out", "fcgi: connection timed out", "remote", "127.0.0.1:40000", "n", i)
	}
	log.Flush() // the summary would otherwise come 10 s after the first record
	// Output:
	// level=WARN msg="fcgi: connection timed out" remote=127.0.0.1:40000 n=0
	// level=WARN msg="fcgi: connection timed out: 1999 more in the last 0s" kind="fcgi: connection timed out" suppressed=1999 interval=0s
}
