package fcgi

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/cgiref/cgiref/internal/wine"
)

func smallPool(size int) *sync.Pool {
	return &sync.Pool{New: func() any { b := make([]byte, 0, size); return &b }}
}

// TestBodySpill writes and reads a body in random steps with a small memory
// bound, so that it moves between memory and the spill file many times.
func TestBodySpill(t *testing.T) {
	dir := wine.TempDir(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, memMax := range []int{1, 16, 100, 1 << 20} {
		b := newBody(memMax, smallPool(16), dir)
		var want, got []byte
		buf := make([]byte, 64)
		for range 2000 {
			if rng.IntN(2) == 0 {
				p := make([]byte, rng.IntN(50)+1)
				for i := range p {
					p[i] = byte(rng.Uint32())
				}
				if err := b.write(p); err != nil {
					t.Fatal(err)
				}
				want = append(want, p...)
			} else if len(got) < len(want) {
				n, err := b.Read(buf[:rng.IntN(len(buf))+1])
				if err != nil {
					t.Fatalf("memMax %d: read: %v", memMax, err)
				}
				got = append(got, buf[:n]...)
			}
		}
		b.close(nil)
		rest, err := io.ReadAll(b)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rest...)
		if !bytes.Equal(got, want) {
			t.Fatalf("memMax %d: read %d bytes, not the %d written", memMax, len(got), len(want))
		}
		spilled := b.file != nil
		b.release()
		if memMax < 100 && !spilled {
			t.Errorf("memMax %d: nothing spilled", memMax)
		}
		if memMax == 1<<20 && spilled {
			t.Errorf("memMax %d: spilled", memMax)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("spill files left behind: %v", left)
	}
}

func TestBodyClose(t *testing.T) {
	b := newBody(10, smallPool(4), wine.TempDir(t))
	b.write([]byte("buffered data"))
	b.close(ErrRequestAborted)
	if _, err := b.Read(make([]byte, 4)); !errors.Is(err, ErrRequestAborted) {
		t.Errorf("read after abort: %v", err)
	}
	if err := b.write([]byte("more")); err != nil {
		t.Errorf("write after abort: %v", err)
	}
	b.release()

	b = newBody(10, smallPool(4), wine.TempDir(t))
	done := make(chan []byte)
	go func() {
		got, _ := io.ReadAll(b)
		done <- got
	}()
	b.write([]byte("ab"))
	b.write([]byte("cd"))
	b.close(nil)
	b.write([]byte("after the end"))
	if got := waitFor(t, done, "the reader"); string(got) != "abcd" {
		t.Errorf("read %q", got)
	}
	if n, err := b.Read(nil); n != 0 || err != nil {
		t.Errorf("empty read: %d %v", n, err)
	}
	b.release()
	if _, err := b.Read(make([]byte, 1)); err == nil {
		t.Error("read after release succeeded")
	}
}

func TestBodySpillError(t *testing.T) {
	b := newBody(1, smallPool(4), "/nonexistent/folder")
	if err := b.write([]byte("too big for memory")); err == nil {
		t.Fatal("spilling into a missing folder succeeded")
	}
	if _, err := b.Read(make([]byte, 4)); err == nil {
		t.Error("read after a spill error succeeded")
	}
	b.release()
}
