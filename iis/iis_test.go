package iis

import (
	"fmt"
	"testing"

	"github.com/cgiref/cgiref/environ"
)

const absent = "\x00absent"

func TestFixPathInfo(t *testing.T) {
	tests := []struct{ script, path, want string }{
		{"/app", "/app/foo", "/foo"},
		{"/app", "/app", ""},
		{"/app", "/app/", "/"},
		{"/app", "/app//x", "//x"},
		{"/app", "/application", "/application"},
		{"/app", "/foo", "/foo"},
		{"/app/", "/app/x", "/app/x"},
		{"/App", "/app/x", "/app/x"},
		{"/app", "", ""},
		{"", "/x", "/x"},
		{absent, absent, ""},
		{"/app", absent, absent},
	}
	for _, tt := range tests {
		env := environ.Environ{}
		if tt.script != absent {
			env["SCRIPT_NAME"] = tt.script
		}
		if tt.path != absent {
			env["PATH_INFO"] = tt.path
		}
		FixPathInfo(env)
		got, ok := env["PATH_INFO"]
		if !ok {
			got = absent
		}
		if got != tt.want {
			t.Errorf("SCRIPT_NAME %q, PATH_INFO %q: got %q, want %q", tt.script, tt.path, got, tt.want)
		}
	}
}

func TestNewHandler(t *testing.T) {
	t.Setenv("REQUEST_METHOD", "GET")
	t.Setenv("SCRIPT_NAME", "/app.exe")
	t.Setenv("PATH_INFO", "/app.exe/users/1")
	h := NewHandler()
	if h.Environ["PATH_INFO"] != "/users/1" {
		t.Errorf("PATH_INFO %q", h.Environ["PATH_INFO"])
	}
	if h.Multithread || !h.Multiprocess || !h.RunOnce {
		t.Errorf("flags %+v", h)
	}
}

func ExampleFixPathInfo() {
	env := environ.Environ{"SCRIPT_NAME": "/app.exe", "PATH_INFO": "/app.exe/users/1"}
	FixPathInfo(env)
	fmt.Println(env["PATH_INFO"])
	// Output: /users/1
}
