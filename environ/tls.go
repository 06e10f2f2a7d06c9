package environ

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
)

// tlsState builds what r.TLS carries for a request that came over HTTPS from
// the SSL_* variables the web server passes (mod_ssl's names, which nginx,
// lighttpd and Caddy can be told to send too; see docs/tls.md):
//
//   - SSL_PROTOCOL ("TLSv1.2", "TLSv1.3", ..., or Caddy's "tls1.3") gives
//     Version;
//   - SSL_CIPHER, an OpenSSL name ("ECDHE-RSA-AES128-GCM-SHA256") or an IANA
//     one ("TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
//     gives CipherSuite;
//   - SSL_TLS_SNI, else SSL_SERVER_NAME, gives ServerName;
//   - SSL_SESSION_RESUMED "Resumed" (Apache) or "r" (nginx's
//     $ssl_session_reused) sets DidResume;
//   - SSL_CLIENT_CERT and SSL_CLIENT_CERT_CHAIN_0, _1, ... give
//     PeerCertificates, and SSL_CLIENT_VERIFY "SUCCESS" makes them the one
//     VerifiedChains entry: the web server verified them.
//
// A certificate is PEM with its line breaks kept, turned into spaces or tabs,
// or URL-escaped (nginx's $ssl_client_escaped_cert), or bare base64 DER. A
// value that does not parse is left out: the request goes on without it.
// Unknown or absent variables leave their fields zero; HandshakeComplete is
// always true.
func tlsState(src Source) *tls.ConnectionState {
	get := func(name string) string { v, _ := src.Lookup(name); return v }
	cs := &tls.ConnectionState{HandshakeComplete: true}
	cs.Version = tlsVersion(get("SSL_PROTOCOL"))
	cs.CipherSuite = cipherSuite(get("SSL_CIPHER"))
	cs.ServerName = get("SSL_TLS_SNI")
	if cs.ServerName == "" {
		cs.ServerName = get("SSL_SERVER_NAME")
	}
	switch get("SSL_SESSION_RESUMED") {
	case "Resumed", "r":
		cs.DidResume = true
	}
	if c := parseCert(get("SSL_CLIENT_CERT")); c != nil {
		cs.PeerCertificates = append(cs.PeerCertificates, c)
		for i := 0; ; i++ {
			v, ok := src.Lookup("SSL_CLIENT_CERT_CHAIN_" + strconv.Itoa(i))
			if !ok {
				break
			}
			if c := parseCert(v); c != nil {
				cs.PeerCertificates = append(cs.PeerCertificates, c)
			}
		}
		if get("SSL_CLIENT_VERIFY") == "SUCCESS" {
			cs.VerifiedChains = [][]*x509.Certificate{cs.PeerCertificates}
		}
	}
	return cs
}

// tlsVersion maps a protocol name to its version number; 0 when unknown.
func tlsVersion(s string) uint16 {
	switch strings.ToLower(s) {
	case "sslv3":
		return 0x0300 // SSL 3.0, as the web server reports it
	case "tlsv1", "tlsv1.0", "tls1.0":
		return tls.VersionTLS10
	case "tlsv1.1", "tls1.1":
		return tls.VersionTLS11
	case "tlsv1.2", "tls1.2":
		return tls.VersionTLS12
	case "tlsv1.3", "tls1.3":
		return tls.VersionTLS13
	}
	return 0
}

// cipherSuite maps an OpenSSL or IANA cipher suite name to its id; 0 when
// unknown.
func cipherSuite(name string) uint16 {
	if name == "" {
		return 0
	}
	if id, ok := opensslCiphers[name]; ok {
		return id
	}
	for _, list := range [][]*tls.CipherSuite{tls.CipherSuites(), tls.InsecureCipherSuites()} {
		for _, c := range list {
			if c.Name == name {
				return c.ID
			}
		}
	}
	return 0
}

// opensslCiphers holds OpenSSL's names of the cipher suites web servers
// negotiate. TLS 1.3 suites have the IANA name in OpenSSL too.
var opensslCiphers = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES128-SHA256":     tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-RSA-AES128-SHA256":       tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-DES-CBC3-SHA":        tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA,
	"ECDHE-ECDSA-RC4-SHA":           tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA,
	"ECDHE-RSA-RC4-SHA":             tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA,
	"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	"AES128-SHA256":                 tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
	"AES128-SHA":                    tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	"AES256-SHA":                    tls.TLS_RSA_WITH_AES_256_CBC_SHA,
	"DES-CBC3-SHA":                  tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA,
	"RC4-SHA":                       tls.TLS_RSA_WITH_RC4_128_SHA,
	// Suites crypto/tls does not implement, by their IANA ids.
	"DHE-RSA-AES128-GCM-SHA256": 0x009e,
	"DHE-RSA-AES256-GCM-SHA384": 0x009f,
	"DHE-RSA-CHACHA20-POLY1305": 0xccaa,
	"AES256-SHA256":             0x003d,
	"ECDHE-ECDSA-AES256-SHA384": 0xc024,
	"ECDHE-RSA-AES256-SHA384":   0xc028,
}

const (
	pemBegin = "-----BEGIN CERTIFICATE-----"
	pemEnd   = "-----END CERTIFICATE-----"
)

// parseCert parses the first certificate in v; nil when there is none.
func parseCert(v string) *x509.Certificate {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	if strings.HasPrefix(v, "-----BEGIN%20") {
		u, err := url.PathUnescape(v)
		if err != nil {
			return nil
		}
		v = u
	}
	if _, rest, ok := strings.Cut(v, pemBegin); ok {
		v, _, ok = strings.Cut(rest, pemEnd)
		if !ok {
			return nil
		}
	}
	der, err := base64.StdEncoding.DecodeString(stripSpace(v))
	if err != nil {
		return nil
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil
	}
	return c
}

// stripSpace removes spaces, tabs, CR and LF.
func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
}
