package scgi

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

// benchSCGI is a typical request as nginx's stock scgi_params sends it,
// benchHTTP the same request in HTTP/1.1 for net/http.ReadRequest.
var (
	benchSCGI = netstring(
		"CONTENT_LENGTH", "0", "SCGI", "1",
		"REQUEST_METHOD", "GET", "REQUEST_URI", "/app/path?x=1&y=2",
		"QUERY_STRING", "x=1&y=2", "CONTENT_TYPE", "", "DOCUMENT_URI", "/app/path",
		"DOCUMENT_ROOT", "/var/www/html", "SERVER_PROTOCOL", "HTTP/1.1",
		"REQUEST_SCHEME", "http", "REMOTE_ADDR", "127.0.0.1", "REMOTE_PORT", "51234",
		"SERVER_PORT", "8080", "SERVER_NAME", "localhost",
		"HTTP_HOST", "localhost:8080", "HTTP_USER_AGENT", "curl/8.5.0",
		"HTTP_ACCEPT", "*/*", "HTTP_ACCEPT_ENCODING", "gzip, deflate, br",
		"HTTP_COOKIE", "session=0123456789abcdef0123456789abcdef",
	)
	benchHTTP = "GET /app/path?x=1&y=2 HTTP/1.1\r\nHost: localhost:8080\r\n" +
		"User-Agent: curl/8.5.0\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate, br\r\n" +
		"Cookie: session=0123456789abcdef0123456789abcdef\r\n\r\n"
)

// BenchmarkParseHeader compares the SCGI header parser with net/http's
// parser reading the same request.
func BenchmarkParseHeader(b *testing.B) {
	b.Run("scgi", func(b *testing.B) {
		sr := strings.NewReader(benchSCGI)
		br := bufio.NewReader(sr)
		b.SetBytes(int64(len(benchSCGI)))
		b.ReportAllocs()
		for b.Loop() {
			sr.Reset(benchSCGI)
			br.Reset(sr)
			if _, err := readHeader(br, DefaultMaxHeaderBytes); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("net-http-ReadRequest", func(b *testing.B) {
		sr := strings.NewReader(benchHTTP)
		br := bufio.NewReader(sr)
		b.SetBytes(int64(len(benchHTTP)))
		b.ReportAllocs()
		for b.Loop() {
			sr.Reset(benchHTTP)
			br.Reset(sr)
			if _, err := http.ReadRequest(br); err != nil {
				b.Fatal(err)
			}
		}
	})
}
