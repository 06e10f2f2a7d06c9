package floor

import (
	"bytes"
	"io"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/yookoala/gofast"
)

func serve(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go Serve(l, nil)
	return l.Addr().String()
}

// TestServeAnswers: a FastCGI client gets the hello-world answer, and the
// connection is closed after it.
func TestServeAnswers(t *testing.T) {
	addr := serve(t)
	client, err := gofast.SimpleClientFactory(gofast.SimpleConnFactory("tcp", addr))()
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	req := gofast.NewRequest(nil)
	req.Params["REQUEST_METHOD"] = "GET"
	req.Params["SERVER_PROTOCOL"] = "HTTP/1.1"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	var errOut bytes.Buffer
	if err := resp.WriteTo(rec, &errOut); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 200 || rec.Body.String() != "Hello world!\n" || rec.Header().Get("Content-Type") != "text/plain" {
		t.Errorf("answer %d %v %q, want 200 text/plain %q", rec.Code, rec.Header(), rec.Body.String(), "Hello world!\n")
	}
}

// TestServeRecords: the answer carries the request's id, comes only after
// the empty FCGI_STDIN record, the connection serves the next request only
// when FCGI_KEEP_CONN asked it to, and a stream that is not FastCGI gets
// no answer.
func TestServeRecords(t *testing.T) {
	begin := appendRecord(nil, typeBeginRequest, 7, []byte{0, 1, 0, 0, 0, 0, 0, 0})
	keepBegin := appendRecord(nil, typeBeginRequest, 7, []byte{0, 1, flagKeepConn, 0, 0, 0, 0, 0})
	params := appendRecord(appendRecord(nil, 4, 7, []byte("\x0e\x03REQUEST_METHODGET")), 4, 7, nil)
	stdin := appendRecord(appendRecord(nil, typeStdin, 7, []byte("body")), typeStdin, 7, nil)
	for _, tt := range []struct {
		name string
		send []byte
		want []byte
	}{
		{"whole request", bytes.Join([][]byte{begin, params, stdin}, nil), answer(7)},
		{"two requests, kept", bytes.Join([][]byte{keepBegin, params, stdin, begin, params, stdin, begin, params, stdin}, nil), bytes.Repeat(answer(7), 2)},
		{"not FastCGI", []byte("GET / HTTP/1.1\r\n\r\n"), nil},
		{"cut before stdin's end", bytes.Join([][]byte{begin, params}, nil), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", serve(t))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write(tt.send); err != nil {
				t.Fatal(err)
			}
			c.(*net.TCPConn).CloseWrite()
			got, _ := io.ReadAll(c)
			if !bytes.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if !bytes.HasPrefix(answerOne, []byte{1, typeStdout, 0, 1}) || !bytes.Contains(answerOne, []byte(Answer)) {
		t.Errorf("the precomputed answer for id 1 is %q", answerOne)
	}
}
