package fcgi

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cgiref/cgiref/gateway"
	"github.com/yookoala/gofast"
)

// gofastDo runs one request through a new gofast client (gofast does not
// demultiplex, so concurrent requests each get their own client).
// A failure is reported with t.Error, so that it may run in a goroutine.
func gofastDo(t *testing.T, addr string, req *gofast.Request) (*httptest.ResponseRecorder, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	client, err := gofast.SimpleClientFactory(gofast.SimpleConnFactory("tcp", addr))()
	if err != nil {
		t.Error(err)
		return rec, ""
	}
	defer client.Close()
	resp, err := client.Do(req)
	if err != nil {
		t.Error(err)
		return rec, ""
	}
	var errOut bytes.Buffer
	if err := resp.WriteTo(rec, &errOut); err != nil {
		t.Error(err)
	}
	return rec, errOut.String()
}

func gofastRequest(method, uri string, body []byte) *gofast.Request {
	req := gofast.NewRequest(nil)
	for _, kv := range getEnv(uri) {
		req.Params[kv[0]] = kv[1]
	}
	req.Params["REQUEST_METHOD"] = method
	if body != nil {
		req.Params["CONTENT_LENGTH"] = strconv.Itoa(len(body))
		req.Params["CONTENT_TYPE"] = "application/octet-stream"
		req.Stdin = io.NopCloser(bytes.NewReader(body))
	}
	return req
}

// TestGofast drives the responder with gofast, many requests at once.
func TestGofast(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(gateway.Errors(r), "log line for", r.URL.Path)
		w.Header().Set("X-Path", r.URL.Path)
		if r.Method == "POST" {
			echo(w, r)
			return
		}
		io.WriteString(w, "hello "+r.URL.Query().Get("n"))
	})
	addr := startServer(t, &Server{Handler: h})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				rec, errOut := gofastDo(t, addr, gofastRequest("GET", fmt.Sprintf("/get?n=%d", i), nil))
				if rec.Code != 200 || rec.Body.String() != fmt.Sprintf("hello %d", i) || rec.Header().Get("X-Path") != "/get" {
					t.Errorf("GET %d: %d %q %v", i, rec.Code, rec.Body.String(), rec.Header())
				}
				if !strings.Contains(errOut, "log line for /get") {
					t.Errorf("GET %d: stderr %q", i, errOut)
				}
				return
			}
			body := bytes.Repeat([]byte{byte('a' + i)}, 100000*i)
			rec, _ := gofastDo(t, addr, gofastRequest("POST", "/post", body))
			if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), body) {
				t.Errorf("POST %d: %d, %d bytes back, want %d", i, rec.Code, rec.Body.Len(), len(body))
			}
		}()
	}
	wg.Wait()
}

func TestGofastFilter(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(Data(r))
		io.WriteString(w, strings.ToUpper(string(data)))
	})
	addr := startServer(t, &Server{Handler: h})
	req := gofastRequest("GET", "/filter", nil)
	req.Role = gofast.RoleFilter
	req.Data = io.NopCloser(strings.NewReader("filter me"))
	req.Params["FCGI_DATA_LENGTH"] = "9"
	req.Params["FCGI_DATA_LAST_MOD"] = "1700000000"
	if rec, _ := gofastDo(t, addr, req); rec.Body.String() != "FILTER ME" {
		t.Errorf("filter answered %d %q", rec.Code, rec.Body.String())
	}
}
