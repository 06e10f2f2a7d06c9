package server

import (
	"log/slog"
	"net/http"
	"time"
)

// OrDefault returns a limit's value: def when v is zero, none (0) when v
// is negative, else v. The servers' fields all read this way.
func OrDefault[T int | int64 | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// HandlerOrDefault returns h, or http.DefaultServeMux when h is nil.
func HandlerOrDefault(h http.Handler) http.Handler {
	if h == nil {
		return http.DefaultServeMux
	}
	return h
}

// LoggerOrDefault returns l, or slog.Default() when l is nil.
func LoggerOrDefault(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}
