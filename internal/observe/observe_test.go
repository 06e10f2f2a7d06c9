package observe

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(Handler))
	defer srv.Close()
	for _, method := range []string{"GET", "HEAD", "POST"} {
		var body io.Reader
		if method == "POST" {
			body = strings.NewReader("abc")
		}
		req, err := http.NewRequest(method, srv.URL+"/p%2Fq?x=1", body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header["X-Rep"] = []string{"a", "b"}
		req.Header.Set("Cookie", "c=1; d=2")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		rep, err := Decode(resp.Header.Get(HeaderName))
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		wantLen, wantNoBody := 0, true
		if method == "POST" {
			wantLen, wantNoBody = 3, false
		}
		if rep.Method != method || rep.URL.RawPath != "/p%2Fq" || rep.URL.RawQuery != "x=1" || rep.RequestURI != "/p%2Fq?x=1" ||
			len(rep.Header["X-Rep"]) != 2 || len(rep.Cookies) != 2 || rep.RemoteShape != "ip:port" ||
			rep.BodyLen != wantLen || rep.NoBody != wantNoBody || rep.BodyError != "" || rep.TLS != nil {
			t.Errorf("%s: report %+v", method, rep)
		}
	}
}

func TestShape(t *testing.T) {
	for addr, want := range map[string]string{
		"1.2.3.4:5": "ip:port", "[::1]:80": "ip:port", "1.2.3.4": "ip", "::1": "ip",
		"": "other", "host:80": "other", "1.2.3.4:": "other",
	} {
		if got := shape(addr); got != want {
			t.Errorf("shape(%q) = %q, want %q", addr, got, want)
		}
	}
}
