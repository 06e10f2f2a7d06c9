package gateway

import (
	"io"
	"net/http"
	"sync"

	"github.com/cgiref/cgiref/internal/spool"
)

// reqBody is the request body as the app reads it. Until spoolRest is called
// it reads straight from the front end's stdin; spoolRest moves whatever the
// app has not read yet into a spool.Buffer (memory, then a temporary file),
// so that the web server can finish writing the body while the app is still
// answering, and the app's later reads come from the spool.
//
// Web servers that write the whole body before reading any output (Apache
// mod_cgid, Caddy's FastCGI transport) would otherwise deadlock an app that
// answers as it reads. A front end whose stdin is a BufferedInput never
// blocks the web server, and its body is never spooled here.
type reqBody struct {
	mu        sync.Mutex
	src       io.Reader // nil: no body at all
	remaining int64     // bytes src may still give; -1: until EOF
	max       int64     // bytes of a body of unknown length allowed; 0: no limit
	read      int64     // bytes read from src
	srcErr    error     // sticky error (or io.EOF) from src
	buffered  bool      // src is a BufferedInput: it never blocks the web server
	unblocked bool      // the answer may go out while the body is unread: full duplex, or all input is in

	cfg   spool.Config
	spool *spool.Buffer // nil until the rest of the body is spooled
}

// init prepares b to read the body from src.
func (b *reqBody) init(src io.Reader, cfg spool.Config) {
	b.src, b.remaining, b.cfg = src, -1, cfg
	_, b.buffered = src.(BufferedInput)
}

// reader returns the body to build the request with: nil when there is no
// stdin at all.
func (b *reqBody) reader() io.Reader {
	if b.src == nil {
		return nil
	}
	return b
}

// limit records how many bytes the body has (from CONTENT_LENGTH); -1 means
// until stdin's end, which max, when positive, bounds.
func (b *reqBody) limit(n, max int64) {
	b.mu.Lock()
	b.remaining, b.max = n, max
	if n == 0 {
		b.srcErr = io.EOF
	}
	b.mu.Unlock()
}

// Read reads the body: from the spool once the rest was spooled, else from
// the front end's stdin.
func (b *reqBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.spool != nil && b.spool.Len() > 0 {
		n, err := b.spool.Read(p)
		if err != nil {
			b.srcErr = err
		}
		return n, err
	}
	if b.spool != nil && b.srcErr == nil {
		return 0, io.EOF
	}
	return b.readSource(p)
}

func (b *reqBody) readSource(p []byte) (int, error) {
	if b.srcErr != nil {
		return 0, b.srcErr
	}
	if b.remaining >= 0 && int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	if b.remaining < 0 && b.max > 0 && b.read+int64(len(p)) > b.max {
		if b.read >= b.max {
			b.srcErr = &http.MaxBytesError{Limit: b.max}
			return 0, b.srcErr
		}
		p = p[:b.max-b.read+1] // one byte past the limit tells whether there is more
	}
	n, err := b.src.Read(p)
	b.read += int64(n)
	if b.remaining < 0 && b.max > 0 && b.read > b.max {
		n -= int(b.read - b.max)
		b.read = b.max
		b.srcErr = &http.MaxBytesError{Limit: b.max}
		return n, b.srcErr
	}
	if b.remaining >= 0 {
		b.remaining -= int64(n)
		if b.remaining == 0 && err == nil {
			err = io.EOF
		}
	}
	if err != nil {
		b.srcErr = err
	}
	return n, err
}

// pending reports whether the web server may still have body bytes to
// send that the app has not read.
func (b *reqBody) pending() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.src != nil && !b.unblocked && b.spool == nil && b.srcErr == nil
}

// enableFullDuplex lets the answer go out while the body is unread; only a
// BufferedInput allows it.
func (b *reqBody) enableFullDuplex() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.unblocked = b.unblocked || b.buffered
	return b.buffered
}

// spoolRest makes sure the web server can finish sending the body once the
// answer begins: it reads the rest of the body from stdin into the spool,
// or, for a BufferedInput, waits until the front end holds all of it. A
// read or spooling error is kept and returned to the app when its reads
// reach it.
func (b *reqBody) spoolRest() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.src == nil || b.spool != nil || b.srcErr != nil {
		return
	}
	if b.buffered {
		b.src.(BufferedInput).AwaitInput()
		b.unblocked = true
		return
	}
	b.spool = new(spool.Buffer)
	b.spool.Init(b.cfg)
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := (*bp)[:cap(*bp)]
	for {
		n, err := b.readSource(buf)
		if n > 0 {
			if _, werr := b.spool.Write(buf[:n]); werr != nil {
				b.srcErr = werr
				return
			}
		}
		if err == io.EOF {
			b.srcErr = nil // the spool ends with io.EOF once read
			return
		}
		if err != nil {
			return
		}
	}
}

// Close frees the spool's memory and removes its temporary file.
func (b *reqBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.spool == nil {
		return nil
	}
	return b.spool.Close()
}
