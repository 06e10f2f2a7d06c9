package fcgi

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/cgiref/cgiref/internal/wine"
)

// TestStress runs many multiplexed requests on a few connections, aborting
// some of them at random moments, and checks that every request gets
// exactly one END_REQUEST and nothing after it, and that the answers of
// the others are whole.
func TestStress(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		if len(b) > 0 && b[0] == 's' {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(time.Millisecond):
			}
		}
		w.Write(bytes.Repeat(b, 3))
	})
	addr := startServer(t, &Server{Handler: h, SpoolMemory: 4096, TempDir: wine.TempDir(t)})
	const conns, perConn, window = 4, 60, 8
	var wg sync.WaitGroup
	for ci := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stressConn(t, addr, uint64(ci), perConn, window)
		}()
	}
	wg.Wait()
}

func stressConn(t *testing.T, addr string, seed uint64, total, window int) {
	c := dial(t, addr)
	rng := rand.New(rand.NewPCG(seed, 99))
	bodies := map[uint16][]byte{}
	aborted := map[uint16]bool{}
	out := map[uint16]*bytes.Buffer{}
	next, done := 0, 0
	for done < total {
		for len(bodies) < window && next < total {
			id := uint16(1)
			for bodies[id] != nil {
				id++
			}
			next++
			body := bytes.Repeat([]byte{"sq"[rng.IntN(2)]}, rng.IntN(20000)+1)
			bodies[id], out[id] = body, new(bytes.Buffer)
			delete(aborted, id)
			b := requestBytes(id, roleResponder, flagKeepConn, postEnv("/", len(body)), body)
			if rng.IntN(4) == 0 {
				// Half the body, no end of STDIN, then the abort: the
				// handler is waiting for the rest when it comes.
				aborted[id] = true
				b = requestBytes(id, roleResponder, flagKeepConn, postEnv("/", len(body)), body[:len(body)/2])
				b = append(b[:len(b)-headerLen], appendRecord(nil, typeAbortRequest, id, nil)...)
			}
			if err := c.send(b); err != nil {
				t.Errorf("send: %v", err)
				return
			}
		}
		rec, err := c.rr.next()
		if err != nil {
			t.Errorf("read: %v", err)
			return
		}
		if bodies[rec.id] == nil {
			t.Errorf("record %v for request %d, not in flight", rec.typ, rec.id)
			return
		}
		switch rec.typ {
		case typeStdout:
			out[rec.id].Write(rec.content)
		case typeEndRequest:
			end, _ := parseEndRequest(rec.content)
			if !aborted[rec.id] {
				want := bytes.Repeat(bodies[rec.id], 3)
				if end.appStatus != 0 || !bytes.HasSuffix(out[rec.id].Bytes(), want) {
					t.Errorf("request %d: status %d, %d bytes of answer", rec.id, end.appStatus, out[rec.id].Len())
				}
			} else if end.appStatus == 0 {
				t.Errorf("aborted request %d ended with status 0", rec.id)
			}
			delete(bodies, rec.id)
			done++
		default:
			t.Errorf("unexpected %v", rec.typ)
			return
		}
	}
	c.expectOpen(1000)
	if done != total {
		t.Errorf("%d of %d requests ended", done, total)
	}
}
