package spool

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cgiref/cgiref/internal/wine"
)

// TestBufferFIFO writes and reads in random steps with several memory
// limits, so that bytes move between memory and the file many times.
func TestBufferFIFO(t *testing.T) {
	dir := wine.TempDir(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, mem := range []int64{-1, 1, 16, 100, chunkSize + 7, 1 << 20} {
		b := NewBuffer(Config{Memory: mem, TempDir: dir})
		var want, got []byte
		buf := make([]byte, 3*chunkSize)
		spilled := false
		for range 600 {
			if rng.IntN(2) == 0 {
				p := make([]byte, rng.IntN(2*chunkSize)+1)
				for i := 0; i < len(p); i += 8 {
					p[i] = byte(rng.Uint32())
				}
				if n, err := b.Write(p); err != nil || n != len(p) {
					t.Fatalf("memory %d: write: %d, %v", mem, n, err)
				}
				want = append(want, p...)
			} else if len(got) < len(want) {
				n, err := b.Read(buf[:rng.IntN(len(buf))+1])
				if err != nil {
					t.Fatalf("memory %d: read: %v", mem, err)
				}
				got = append(got, buf[:n]...)
			}
			spilled = spilled || b.OnDisk() > 0
			if b.Len() != int64(len(want)-len(got)) {
				t.Fatalf("memory %d: Len %d, want %d", mem, b.Len(), len(want)-len(got))
			}
		}
		rest, err := io.ReadAll(b)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rest...)
		if !bytes.Equal(got, want) {
			t.Fatalf("memory %d: read %d bytes, not the %d written", mem, len(got), len(want))
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if mem < 1<<20 && !spilled {
			t.Errorf("memory %d: nothing went to the file", mem)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestBufferLimits(t *testing.T) {
	b := NewBuffer(Config{Memory: 4, MaxBytes: 10, TempDir: wine.TempDir(t), Prefix: "x-"})
	defer b.Close()
	if _, err := b.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Write([]byte("a")); !errors.Is(err, ErrTooLarge) || n != 0 {
		t.Fatalf("write past MaxBytes: %d, %v", n, err)
	}
	if b.Len() != 10 || b.OnDisk() != 10 {
		t.Errorf("Len %d, OnDisk %d", b.Len(), b.OnDisk())
	}
	if name := filepath.Base(b.file.Name()); !strings.HasPrefix(name, "x-") {
		t.Errorf("temporary file %s does not use the prefix", name)
	}

	bad := NewBuffer(Config{Memory: 1, TempDir: "/nonexistent/folder"})
	if _, err := bad.Write([]byte("too big for memory")); err == nil {
		t.Error("spooling into a missing folder succeeded")
	}
}

func TestPipe(t *testing.T) {
	p := NewPipe(Config{Memory: 10, TempDir: wine.TempDir(t)})
	p.Write([]byte("buffered data"))
	abort := errors.New("aborted")
	p.CloseWithError(abort)
	if _, err := p.Read(make([]byte, 4)); !errors.Is(err, abort) {
		t.Errorf("read after abort: %v", err)
	}
	if _, err := p.Write([]byte("more")); err != nil {
		t.Errorf("write after abort: %v", err)
	}
	p.Release()

	p = NewPipe(Config{Memory: 3, TempDir: wine.TempDir(t)})
	done := make(chan []byte)
	go func() {
		got, _ := io.ReadAll(p)
		done <- got
	}()
	p.Write([]byte("ab"))
	p.Write([]byte("cdef"))
	if total, onDisk := p.Buffered(); total > 6 || onDisk > 4 {
		t.Errorf("Buffered: %d, %d", total, onDisk)
	}
	waited := make(chan error, 1)
	go func() { waited <- p.WaitClosed() }()
	p.CloseWithError(nil)
	if err := <-waited; err != nil {
		t.Errorf("WaitClosed = %v", err)
	}
	p.Write([]byte("after the end"))
	select {
	case got := <-done:
		if string(got) != "abcdef" {
			t.Errorf("read %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the reader did not see the end of the stream")
	}
	if n, err := p.Read(nil); n != 0 || err != nil {
		t.Errorf("empty read: %d %v", n, err)
	}
	p.Release()
	if _, err := p.Read(make([]byte, 1)); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("read after Release: %v", err)
	}
}

func TestPipeSpoolError(t *testing.T) {
	p := NewPipe(Config{Memory: 1, TempDir: "/nonexistent/folder"})
	defer p.Release()
	if _, err := p.Write([]byte("too big for memory")); err == nil {
		t.Fatal("spooling into a missing folder succeeded")
	}
	if _, err := p.Read(make([]byte, 4)); err == nil {
		t.Error("read after a spool error succeeded")
	}
}

func TestBufferAllocs(t *testing.T) {
	b := NewBuffer(Config{})
	p, q := make([]byte, 1000), make([]byte, 1000)
	b.Write(p) // warm the pool
	b.Read(q)
	if n := testing.AllocsPerRun(100, func() {
		b.Write(p)
		b.Read(q)
	}); n != 0 {
		t.Errorf("%v allocations per write and read", n)
	}
}

func TestPipeReadDeadline(t *testing.T) {
	p := NewPipe(Config{})
	defer p.Release()
	p.Write([]byte("a"))
	p.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	buf := make([]byte, 4)
	if n, err := p.Read(buf); n != 1 || err != nil {
		t.Fatalf("buffered read before the deadline: %d, %v", n, err)
	}
	if _, err := p.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("waiting read past the deadline: %v", err)
	}
	p.SetReadDeadline(time.Time{})
	go func() {
		time.Sleep(20 * time.Millisecond)
		p.Write([]byte("b"))
	}()
	if n, err := p.Read(buf); n != 1 || err != nil || buf[0] != 'b' {
		t.Fatalf("read after clearing the deadline: %d, %v", n, err)
	}
}

func TestBudget(t *testing.T) {
	budget := &Budget{Memory: 10, Disk: 20}
	dir := wine.TempDir(t)
	a := NewBuffer(Config{Memory: 100, TempDir: dir, Budget: budget})
	b := NewBuffer(Config{Memory: 100, TempDir: dir, Budget: budget})
	a.Write(make([]byte, 8))
	b.Write(make([]byte, 8)) // memory budget spent: to disk
	if a.OnDisk() != 0 || b.OnDisk() != 8 {
		t.Fatalf("on disk: %d, %d", a.OnDisk(), b.OnDisk())
	}
	if _, err := b.Write(make([]byte, 13)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("write past the disk budget: %v", err)
	}
	if mem, disk := budget.InUse(); mem != 8 || disk != 8 {
		t.Fatalf("in use: %d, %d", mem, disk)
	}
	io.CopyN(io.Discard, a, 5)
	a.Close()
	b.Close()
	if mem, disk := budget.InUse(); mem != 0 || disk != 0 {
		t.Fatalf("in use after Close: %d, %d", mem, disk)
	}
}
