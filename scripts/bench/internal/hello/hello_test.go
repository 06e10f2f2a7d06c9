package hello

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cgiref/cgiref/internal/wine"
)

func TestHandler(t *testing.T) {
	for _, method := range []string{"GET", "HEAD", "POST"} {
		t.Run(method, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Handler(rec, httptest.NewRequest(method, "/any/path?q=1", strings.NewReader("ignored")))
			if rec.Code != http.StatusOK {
				t.Errorf("status = %d, want 200", rec.Code)
			}
			if got := rec.Header().Get("Content-Type"); got != "text/plain" {
				t.Errorf("Content-Type = %q, want text/plain", got)
			}
			if got := rec.Body.String(); got != "Hello world!\n" {
				t.Errorf("body = %q, want %q", got, "Hello world!\n")
			}
		})
	}
}

// httpServe serves over plain HTTP and reports the listener's address.
func httpServe(addrs chan<- string) ServeFunc {
	return func(l net.Listener, h http.Handler) error {
		addrs <- l.Addr().String()
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		return srv.Serve(l)
	}
}

func TestRunServesAndProfiles(t *testing.T) {
	dir := wine.TempDir(t)
	profile := filepath.Join(dir, "cpu.pprof")
	memProfile := filepath.Join(dir, "mem.pprof")
	rate := runtime.MemProfileRate // -memprofilerate changes it for the process
	t.Cleanup(func() { runtime.MemProfileRate = rate })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrs := make(chan string, 1)
	done := make(chan error, 1)
	args := []string{"-listen", "127.0.0.1:0", "-cpuprofile", profile, "-memprofile", memProfile, "-memprofilerate", "512"}
	go func() { done <- Run(ctx, "test", args, io.Discard, httpServe(addrs)) }()

	var addr string
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not start serving within 10s")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != Body {
		t.Errorf("body = %q, want %q", body, Body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of cancel")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("listener still accepts after Run returned")
	}
	for _, p := range []string{profile, memProfile} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		// A pprof profile is gzip-compressed protobuf.
		if !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			t.Errorf("%s does not start with the gzip magic: % x", filepath.Base(p), data[:min(len(data), 4)])
		}
	}
}

func TestRunErrors(t *testing.T) {
	early := errors.New("early")
	tests := []struct {
		name  string
		args  []string
		serve ServeFunc
		want  string
	}{
		{"unknown flag", []string{"-port", "1"}, nil, "flag provided but not defined"},
		{"extra argument", []string{"-listen", "127.0.0.1:0", "extra"}, nil, `unexpected arguments ["extra"]`},
		{"bad address", []string{"-listen", "127.0.0.1:notaport"}, nil, "test: listen tcp"},
		{"bad profile path", []string{"-listen", "127.0.0.1:0", "-cpuprofile", filepath.Join(wine.TempDir(t), "missing", "p")}, nil, "test: cpu profile:"},
		{"bad memory profile path", []string{"-listen", "127.0.0.1:0", "-memprofile", filepath.Join(wine.TempDir(t), "missing", "p")}, nil, "test: memory profile:"},
		{"negative memory profile rate", []string{"-listen", "127.0.0.1:0", "-memprofile", "p", "-memprofilerate", "-1"}, nil, "must not be negative"},
		{"serve fails", []string{"-listen", "127.0.0.1:0"}, func(net.Listener, http.Handler) error { return early }, "test: serve: early"},
		{"serve returns nil", []string{"-listen", "127.0.0.1:0"}, func(net.Listener, http.Handler) error { return nil }, "stopped before being asked to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serve := tt.serve
			if serve == nil {
				serve = func(net.Listener, http.Handler) error {
					t.Error("serve called, want an error before serving")
					return nil
				}
			}
			err := Run(context.Background(), "test", tt.args, io.Discard, serve)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
