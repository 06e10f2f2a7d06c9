package environ

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestAdd(t *testing.T) {
	tests := []struct {
		pairs [][2]string
		want  Environ
		err   string // the first error, "" for none
	}{
		{[][2]string{{"A", "1"}, {"HTTP_X", "v"}}, Environ{"A": "1", "HTTP_X": "v"}, ""},
		{[][2]string{{"HTTP_X_FORWARDED_FOR", "1.1.1.1"}, {"HTTP_X_FORWARDED_FOR", "2.2.2.2"}, {"HTTP_X_FORWARDED_FOR", "3.3.3.3"}},
			Environ{"HTTP_X_FORWARDED_FOR": "1.1.1.1, 2.2.2.2, 3.3.3.3"}, ""},
		{[][2]string{{"HTTP_COOKIE", "a=1"}, {"HTTP_COOKIE", "b=2; c=3"}}, Environ{"HTTP_COOKIE": "a=1; b=2; c=3"}, ""},
		{[][2]string{{"HTTP_ACCEPT", ""}, {"HTTP_ACCEPT", "x"}}, Environ{"HTTP_ACCEPT": ", x"}, ""},
		{[][2]string{{"REQUEST_METHOD", "GET"}, {"REQUEST_METHOD", "POST"}}, Environ{"REQUEST_METHOD": "GET"}, "environ: repeated REQUEST_METHOD"},
		{[][2]string{{"CONTENT_LENGTH", "1"}, {"CONTENT_LENGTH", "1"}}, Environ{"CONTENT_LENGTH": "1"}, "environ: repeated CONTENT_LENGTH"},
		{[][2]string{{"SCRIPT_NAME", ""}, {"SCRIPT_NAME", "/x"}}, Environ{"SCRIPT_NAME": ""}, "environ: repeated SCRIPT_NAME"},
		{[][2]string{{"HTTP_HOST", "a"}, {"HTTP_HOST", "b"}}, Environ{"HTTP_HOST": "a"}, "environ: repeated HTTP_HOST"},
		// a name is case sensitive: two different variables
		{[][2]string{{"http_x", "1"}, {"http_x", "2"}}, Environ{"http_x": "1"}, "environ: repeated http_x"},
	}
	for _, tt := range tests {
		env := Environ{}
		var first error
		for _, p := range tt.pairs {
			if err := env.Add(p[0], p[1]); err != nil && first == nil {
				first = err
			}
		}
		var re *RepeatedVarError
		if tt.err == "" && first != nil || tt.err != "" && (first == nil || first.Error() != tt.err || !errors.As(first, &re)) {
			t.Errorf("Add %v: error %v, want %q", tt.pairs, first, tt.err)
		}
		if !reflect.DeepEqual(env, tt.want) {
			t.Errorf("Add %v: %v, want %v", tt.pairs, env, tt.want)
		}
	}
}

func TestRejoinCookie(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"a=1", "a=1"},
		{"a=1; b=2", "a=1; b=2"},
		{"a=1, b=2", "a=1; b=2"},           // Apache, Caddy: two lines
		{"a=1, b=2; c=3", "a=1; b=2; c=3"}, // the second line had two cookies
		{"a=1; b=2, c=3, d=4", "a=1; b=2; c=3; d=4"},
		{"a=1,b=2", "a=1,b=2"}, // no web server joins without the space
		{"last=Wed, 09 Jun 2021 10:18:14 GMT", "last=Wed, 09 Jun 2021 10:18:14 GMT"}, // a date in a value
		{"l=x, y", "l=x, y"},                   // a comma in a value
		{`q="1, b=2"`, `q="1, b=2"`},           // inside a quoted value
		{`q="1, b=2", c=3`, `q="1, b=2"; c=3`}, // after it
		{`q="open, b=2`, `q="open, b=2`},       // an unterminated quote hides the rest
		{`x=a"b, c=3`, `x=a"b; c=3`},           // a quote inside a value opens nothing
		{"a=1, =2", "a=1, =2"},                 // no name
		{"a=1, b c=2", "a=1, b c=2"},           // not a token
		{"a=1, $Path=/", "a=1; $Path=/"},       // RFC 2965 attributes are tokens too
		{"a=1, b", "a=1, b"},                   // a name without "="
		{"a=1, b=", "a=1; b="},                 // an empty value
		{"a=\xff, b=2", "a=\xff; b=2"},         // bytes kept
		{"a=1, b=2, c=3, d=4, e=5", "a=1; b=2; c=3; d=4; e=5"},
	}
	for _, tt := range tests {
		if got := rejoinCookie(tt.in); got != tt.want {
			t.Errorf("rejoinCookie(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestNewRequestCookies: r.Cookie finds every cookie however the web server
// joined the client's Cookie lines.
func TestNewRequestCookies(t *testing.T) {
	for _, v := range []string{"a=1; b=2", "a=1, b=2", "a=1, b=2; c=3"} {
		r, err := NewRequest(base("HTTP_COOKIE", v), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"a", "b"} {
			if _, err := r.Cookie(name); err != nil {
				t.Errorf("HTTP_COOKIE %q: cookie %s: %v", v, name, err)
			}
		}
	}
}

func TestNewRequestFraming(t *testing.T) {
	tests := []struct {
		name   string
		env    Environ
		body   io.Reader
		length int64
		te     []string
		noBody bool
		header http.Header
	}{
		{"nil body", base(), nil, 0, nil, true, http.Header{}},
		{"NoBody", base(), http.NoBody, 0, nil, true, http.Header{}},
		{"NoBody, empty CONTENT_LENGTH", base("CONTENT_LENGTH", ""), http.NoBody, 0, nil, true, http.Header{}},
		{"NoBody, POST", base("REQUEST_METHOD", "POST"), http.NoBody, 0, nil, true, http.Header{}},
		{"NoBody, chunked", base("REQUEST_METHOD", "POST", "HTTP_TRANSFER_ENCODING", "chunked"), http.NoBody, 0, nil, true, http.Header{}},
		{"unknown length", base("REQUEST_METHOD", "POST"), strings.NewReader("abc"), -1, []string{"chunked"}, false, http.Header{}},
		{"unknown length, chunked", base("REQUEST_METHOD", "POST", "HTTP_TRANSFER_ENCODING", "chunked"),
			strings.NewReader("abc"), -1, []string{"chunked"}, false, http.Header{}},
		{"de-chunked", base("REQUEST_METHOD", "POST", "HTTP_TRANSFER_ENCODING", "chunked", "CONTENT_LENGTH", "3"),
			strings.NewReader("abc"), 3, nil, false, http.Header{"Content-Length": {"3"}}},
		{"empty", base("REQUEST_METHOD", "GET", "CONTENT_LENGTH", "0"), strings.NewReader(""), 0, nil, true, http.Header{}},
	}
	for _, tt := range tests {
		r, err := NewRequest(tt.env, tt.body)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if r.ContentLength != tt.length || !reflect.DeepEqual(r.TransferEncoding, tt.te) ||
			(r.Body == http.NoBody) != tt.noBody || !reflect.DeepEqual(r.Header, tt.header) {
			t.Errorf("%s: ContentLength %d TransferEncoding %q NoBody %v Header %v; want %d %q %v %v", tt.name,
				r.ContentLength, r.TransferEncoding, r.Body == http.NoBody, r.Header, tt.length, tt.te, tt.noBody, tt.header)
		}
	}
}

// testCert returns a self-signed certificate for name.
func testCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pemOf(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

func TestNewRequestTLSState(t *testing.T) {
	client, ca := testCert(t, "client"), testCert(t, "ca")
	p := pemOf(client)
	forms := map[string]string{
		"PEM (Apache, lighttpd)":                 p,
		"PEM without the last newline":           strings.TrimSuffix(p, "\n"),
		"lines joined by spaces":                 strings.ReplaceAll(strings.TrimSpace(p), "\n", " "),
		"continuation tabs ($ssl_client_cert)":   strings.ReplaceAll(strings.TrimSpace(p), "\n", "\n\t"),
		"URL-escaped ($ssl_client_escaped_cert)": strings.ReplaceAll(url.PathEscape(p), "+", "%2B"),
		"base64 DER (Caddy)":                     base64.StdEncoding.EncodeToString(client.Raw),
		"CRLF":                                   strings.ReplaceAll(p, "\n", "\r\n"),
	}
	for form, v := range forms {
		r, err := NewRequest(base("HTTPS", "on", "SSL_CLIENT_CERT", v), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.TLS.PeerCertificates) != 1 || !r.TLS.PeerCertificates[0].Equal(client) {
			t.Errorf("%s: PeerCertificates %v", form, r.TLS.PeerCertificates)
		}
	}

	env := base("HTTPS", "on", "SSL_PROTOCOL", "TLSv1.2", "SSL_CIPHER", "ECDHE-RSA-AES128-GCM-SHA256",
		"SSL_TLS_SNI", "sni.example", "SSL_SERVER_NAME", "other.example", "SSL_SESSION_RESUMED", "Resumed",
		"SSL_CLIENT_CERT", p, "SSL_CLIENT_CERT_CHAIN_0", pemOf(ca), "SSL_CLIENT_CERT_CHAIN_1", "garbage",
		"SSL_CLIENT_CERT_CHAIN_3", pemOf(ca), "SSL_CLIENT_VERIFY", "SUCCESS")
	r, err := NewRequest(env, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs := r.TLS
	if cs.Version != tls.VersionTLS12 || cs.CipherSuite != tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 ||
		cs.ServerName != "sni.example" || !cs.DidResume || !cs.HandshakeComplete {
		t.Errorf("TLS %+v", cs)
	}
	// CHAIN_1 does not parse and is left out; CHAIN_3 comes after a gap
	if len(cs.PeerCertificates) != 2 || !cs.PeerCertificates[1].Equal(ca) {
		t.Errorf("PeerCertificates %d", len(cs.PeerCertificates))
	}
	if len(cs.VerifiedChains) != 1 || len(cs.VerifiedChains[0]) != 2 {
		t.Errorf("VerifiedChains %v", cs.VerifiedChains)
	}

	// HTTPS alone: non-nil and complete; no verification claimed
	r, err = NewRequest(base("HTTPS", "on", "SSL_SERVER_NAME", "n.example", "SSL_CLIENT_CERT", p, "SSL_CLIENT_VERIFY", "NONE"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.TLS.ServerName != "n.example" || r.TLS.VerifiedChains != nil || len(r.TLS.PeerCertificates) != 1 || !r.TLS.HandshakeComplete {
		t.Errorf("TLS %+v", r.TLS)
	}
	// SSL_* without HTTPS: plain HTTP
	r, err = NewRequest(base("SSL_PROTOCOL", "TLSv1.3"), nil)
	if err != nil || r.TLS != nil {
		t.Errorf("SSL_PROTOCOL without HTTPS: TLS %v, %v", r.TLS, err)
	}
}

func TestTLSNames(t *testing.T) {
	versions := map[string]uint16{
		"TLSv1": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11, "TLSv1.2": tls.VersionTLS12,
		"TLSv1.3": tls.VersionTLS13, "tls1.3": tls.VersionTLS13, "SSLv3": 0x0300, "": 0, "QUIC": 0,
	}
	for name, want := range versions {
		if got := tlsVersion(name); got != want {
			t.Errorf("tlsVersion(%q) = %#x, want %#x", name, got, want)
		}
	}
	ciphers := map[string]uint16{
		"ECDHE-RSA-AES128-GCM-SHA256":           tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		"ECDHE-ECDSA-CHACHA20-POLY1305":         tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		"AES256-GCM-SHA384":                     tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
		"DHE-RSA-AES128-GCM-SHA256":             0x009e,
		"TLS_AES_128_GCM_SHA256":                tls.TLS_AES_128_GCM_SHA256,
		"TLS_AES_256_GCM_SHA384":                tls.TLS_AES_256_GCM_SHA384,
		"TLS_CHACHA20_POLY1305_SHA256":          tls.TLS_CHACHA20_POLY1305_SHA256,
		"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		"TLS_RSA_WITH_RC4_128_SHA":              tls.TLS_RSA_WITH_RC4_128_SHA,
		"":                                      0,
		"NOT-A-CIPHER":                          0,
	}
	for name, want := range ciphers {
		if got := cipherSuite(name); got != want {
			t.Errorf("cipherSuite(%q) = %#x, want %#x", name, got, want)
		}
	}
}
