package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// spool is the request body as the app reads it. Until spoolRest is called
// it reads straight from the front end's stdin; spoolRest reads whatever the
// app has not read yet into memory (then a temporary file past a limit), so
// that the web server can finish writing the body while the app is still
// answering, and the app's later reads come from the spool.
//
// Web servers that write the whole body before reading any output (Apache
// mod_cgid, Caddy's FastCGI transport) would otherwise deadlock an app that
// answers as it reads.
type spool struct {
	mu        sync.Mutex
	src       io.Reader // nil: no body at all
	remaining int64     // bytes src may still give; -1: until EOF
	srcErr    error     // sticky error (or io.EOF) from src

	memLimit int64
	spooled  bool
	mem      bytes.Buffer
	file     *os.File // spooled bytes past memLimit
	fileRead int64    // offset of the next read in file
	fileSize int64
}

// init prepares s to read the body from src.
func (s *spool) init(src io.Reader, memLimit int64) {
	if memLimit <= 0 {
		memLimit = defaultSpoolMemory
	}
	s.src, s.remaining, s.memLimit = src, -1, memLimit
}

// reader returns the body to build the request with: nil when there is no
// stdin at all.
func (s *spool) reader() io.Reader {
	if s.src == nil {
		return nil
	}
	return s
}

// limit records how many bytes the body has (from CONTENT_LENGTH); -1 means
// until stdin's end.
func (s *spool) limit(n int64) {
	s.mu.Lock()
	s.remaining = n
	if n == 0 {
		s.srcErr = io.EOF
	}
	s.mu.Unlock()
}

// Read reads the body: from the spool once the rest was spooled, else from
// the front end's stdin.
func (s *spool) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.spooled {
		return s.readSpooled(p)
	}
	return s.readSource(p)
}

func (s *spool) readSource(p []byte) (int, error) {
	if s.srcErr != nil {
		return 0, s.srcErr
	}
	if s.remaining >= 0 && int64(len(p)) > s.remaining {
		p = p[:s.remaining]
	}
	n, err := s.src.Read(p)
	if s.remaining >= 0 {
		s.remaining -= int64(n)
		if s.remaining == 0 && err == nil {
			err = io.EOF
		}
	}
	if err != nil {
		s.srcErr = err
	}
	return n, err
}

func (s *spool) readSpooled(p []byte) (int, error) {
	if s.mem.Len() > 0 {
		return s.mem.Read(p)
	}
	if s.file != nil && s.fileRead < s.fileSize {
		n, err := s.file.ReadAt(p[:min(int64(len(p)), s.fileSize-s.fileRead)], s.fileRead)
		s.fileRead += int64(n)
		if err == io.EOF && n > 0 {
			err = nil
		}
		return n, err
	}
	if s.srcErr == nil {
		return 0, io.EOF
	}
	return 0, s.srcErr
}

// pending reports whether stdin still holds body bytes the app has not read.
func (s *spool) pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.src != nil && !s.spooled && s.srcErr == nil
}

// spoolRest reads the rest of the body from stdin into the spool. A read
// or spooling error is kept and returned to the app when its reads reach it.
func (s *spool) spoolRest() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.src == nil || s.spooled || s.srcErr != nil {
		return
	}
	s.spooled = true
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := (*bp)[:cap(*bp)]
	for {
		n, err := s.readSource(buf)
		if n > 0 {
			if werr := s.store(buf[:n]); werr != nil {
				s.srcErr = werr
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// store appends spooled bytes to memory, or to the temporary file once
// memory holds memLimit bytes.
func (s *spool) store(b []byte) error {
	if s.file == nil {
		room := s.memLimit - int64(s.mem.Len())
		if room >= int64(len(b)) {
			s.mem.Write(b)
			return nil
		}
		if room > 0 {
			s.mem.Write(b[:room])
			b = b[room:]
		}
		f, err := os.CreateTemp("", "cgiref-body-*")
		if err != nil {
			return fmt.Errorf("gateway: spooling the request body: %w", err)
		}
		s.file = f
	}
	if _, err := s.file.WriteAt(b, s.fileSize); err != nil {
		return fmt.Errorf("gateway: spooling the request body: %w", err)
	}
	s.fileSize += int64(len(b))
	return nil
}

// Close removes the temporary file, if any.
func (s *spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil {
		return nil
	}
	name := s.file.Name()
	err := errors.Join(s.file.Close(), os.Remove(name))
	s.file = nil
	return err
}
