//go:build unix

package listen

import (
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cgiref/cgiref/internal/wine"
)

// notifySocket listens for datagrams on name and returns what arrives.
func notifySocket(t *testing.T, name string) <-chan string {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	got := make(chan string, 8)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				close(got)
				return
			}
			got <- string(buf[:n])
		}
	}()
	return got
}

func TestNotify(t *testing.T) {
	names := map[string]string{
		"path":     filepath.Join(wine.TempDir(t), "notify"),
		"abstract": "@cgiref-listen-test-" + strconv.FormatInt(time.Now().UnixNano(), 36),
	}
	for kind, name := range names {
		t.Run(kind, func(t *testing.T) {
			got := notifySocket(t, name)
			t.Setenv("NOTIFY_SOCKET", name)
			for _, tc := range []struct {
				send func() (bool, error)
				want string
			}{
				{func() (bool, error) { return Ready("") }, "READY=1"},
				{func() (bool, error) { return Ready("serving on x") }, "READY=1\nSTATUS=serving on x"},
				{func() (bool, error) { return Status("two\nlines") }, "STATUS=two lines"},
				{func() (bool, error) { return Stopping("") }, "STOPPING=1"},
			} {
				sent, err := tc.send()
				if !sent || err != nil {
					t.Fatalf("sent %v, %v", sent, err)
				}
				select {
				case s := <-got:
					if s != tc.want {
						t.Errorf("got %q, want %q", s, tc.want)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("nothing arrived for %q", tc.want)
				}
			}
		})
	}
}

func TestNotifyUnset(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if sent, err := Ready(""); sent || err != nil {
		t.Fatalf("sent %v, %v without NOTIFY_SOCKET", sent, err)
	}
}

func TestNotifyNobody(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(wine.TempDir(t), "none"))
	if sent, err := Ready(""); sent || err == nil {
		t.Fatalf("sent %v, %v to a missing socket", sent, err)
	}
}
