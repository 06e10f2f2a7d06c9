package environ

import (
	"crypto/tls"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

// FuzzTLSState feeds the SSL_* variables a web server passes (the client's
// certificate among them, which a client chooses) to NewRequest: it never
// fails or panics for them, r.TLS is complete, and what it claims holds.
func FuzzTLSState(f *testing.F) {
	client, ca := testCert(f, "client"), testCert(f, "ca")
	p := pemOf(client)
	f.Add("TLSv1.3", "TLS_AES_128_GCM_SHA256", "sni.example", "Resumed", p, pemOf(ca), "SUCCESS")
	f.Add("tls1.2", "ECDHE-RSA-AES128-GCM-SHA256", "", "r", url.PathEscape(p), "garbage", "NONE")
	f.Add("", "", "", "", base64.StdEncoding.EncodeToString(client.Raw), "", "SUCCESS")
	f.Add("SSLv3", "RC4-SHA", "x", "", strings.ReplaceAll(p, "\n", "\n\t"), strings.ReplaceAll(p, "\n", " "), "FAILED")
	f.Add("", "", "", "", "-----BEGIN%20CERTIFICATE-----%zz", "-----BEGIN CERTIFICATE-----", "")
	f.Fuzz(func(t *testing.T, proto, cipher, sni, resumed, cert, chain, verify string) {
		env := Environ{
			"REQUEST_METHOD": "GET", "HTTPS": "on", "SSL_PROTOCOL": proto, "SSL_CIPHER": cipher,
			"SSL_TLS_SNI": sni, "SSL_SESSION_RESUMED": resumed, "SSL_CLIENT_CERT": cert,
			"SSL_CLIENT_CERT_CHAIN_0": chain, "SSL_CLIENT_CERT_CHAIN_1": cert, "SSL_CLIENT_VERIFY": verify,
		}
		r, err := NewRequest(env, nil)
		if err != nil {
			t.Fatalf("NewRequest: %v", err)
		}
		cs := r.TLS
		if cs == nil || !cs.HandshakeComplete {
			t.Fatalf("TLS %+v", cs)
		}
		if cs.ServerName != sni {
			t.Errorf("ServerName %q, want %q", cs.ServerName, sni)
		}
		if cs.Version != 0 && cs.Version != 0x0300 && tls.VersionName(cs.Version) == "" {
			t.Errorf("Version %#x from %q", cs.Version, proto)
		}
		if cs.DidResume != (resumed == "Resumed" || resumed == "r") {
			t.Errorf("DidResume %v from %q", cs.DidResume, resumed)
		}
		for i, c := range cs.PeerCertificates {
			if c == nil || len(c.Raw) == 0 {
				t.Fatalf("PeerCertificates[%d] empty", i)
			}
		}
		// The client's certificate first, or no certificate at all.
		if first := parseCert(cert); (first == nil) != (len(cs.PeerCertificates) == 0) ||
			first != nil && !first.Equal(cs.PeerCertificates[0]) {
			t.Errorf("PeerCertificates %d, SSL_CLIENT_CERT parses: %v", len(cs.PeerCertificates), first != nil)
		}
		if len(cs.PeerCertificates) > 3 {
			t.Errorf("%d PeerCertificates from 3 variables", len(cs.PeerCertificates))
		}
		verified := verify == "SUCCESS" && len(cs.PeerCertificates) > 0
		if (cs.VerifiedChains != nil) != verified {
			t.Errorf("VerifiedChains %v with SSL_CLIENT_VERIFY %q", cs.VerifiedChains, verify)
		}
	})
}
