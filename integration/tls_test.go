//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"text/template"
	"time"

	"github.com/cgiref/cgiref/internal/observe"
)

// TestTLS requests the check app's /observe over HTTPS through nginx
// (FastCGI and SCGI), Apache (mod_proxy_fcgi, mod_fcgid, mod_proxy_scgi and
// CGI through mod_cgid), lighttpd (FastCGI, SCGI, CGI) and Caddy (FastCGI),
// configured as docs/tls.md shows, with a test CA, a server certificate for
// localhost, a client certificate and one signed by an intermediate CA.
// What the handler finds in r.TLS must be what the Go client negotiated:
// version, cipher suite, server name (SNI) and session resumption where the
// server passes them, the client's certificate in PeerCertificates and, as
// the server verified it, in VerifiedChains (with the intermediate where the
// server passes the chain: Apache). Without a client certificate r.TLS is
// still there, with no peer certificates; one that no trusted CA signed
// never reaches the app as a peer certificate (nginx answers 400, Apache and
// Caddy end the handshake, lighttpd drops it). tlsTraits records what each
// server was measured to pass.
func TestTLS(t *testing.T) {
	peers := []struct {
		name    string
		start   func(*testing.T, *testPKI) *tlsServer
		scripts []string
	}{
		{"nginx", startNginxTLS, []string{"/fcgi", "/scgi"}},
		{"apache", startApacheTLS, []string{"/fcgi", "/fcgid", "/scgi", "/cgi/auto"}},
		{"lighttpd", startLighttpdTLS, []string{"/fcgi-tcp", "/scgi", "/cgi/auto"}},
		{"caddy", startCaddyTLS, []string{"/fcgi"}},
	}
	pki := newTestPKI(t)
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			srv := p.start(t, pki)
			for _, script := range p.scripts {
				t.Run(script[1:], func(t *testing.T) {
					for _, c := range tlsCases {
						t.Run(c.name, func(t *testing.T) { checkTLS(t, srv, pki, script, c) })
					}
					t.Run("untrusted-cert", func(t *testing.T) { checkUntrusted(t, srv, pki, script) })
				})
			}
		})
	}
}

// tlsCase is how the client connects.
type tlsCase struct {
	name       string
	version    uint16 // the only version the client offers
	clientCert bool   // the client presents its certificate
	chain      bool   // ... signed by an intermediate CA, which it sends too
	resume     bool   // a second connection resumes the first one's session
}

var tlsCases = []tlsCase{
	{name: "tls1.3-cert", version: tls.VersionTLS13, clientCert: true},
	{name: "tls1.2-cert", version: tls.VersionTLS12, clientCert: true},
	{name: "tls1.3-no-cert", version: tls.VersionTLS13},
	{name: "tls1.2-no-cert", version: tls.VersionTLS12},
	{name: "tls1.3-chain", version: tls.VersionTLS13, clientCert: true, chain: true},
	{name: "tls1.2-chain", version: tls.VersionTLS12, clientCert: true, chain: true},
	{name: "tls1.3-resumed", version: tls.VersionTLS13, clientCert: true, resume: true},
	{name: "tls1.2-resumed", version: tls.VersionTLS12, clientCert: true, resume: true},
}

// checkTLS requests script/observe as c says and compares the handler's
// r.TLS with the client's side of the connection.
func checkTLS(t *testing.T, srv *tlsServer, pki *testPKI, script string, c tlsCase) {
	client := srv.client(pki, c)
	rep, cs := observeTLS(t, client, srv.base+script+"/observe/tls")
	if c.resume {
		// The first answer brought the session (TLS 1.3: its ticket); a new
		// connection resumes it.
		rep, cs = observeTLS(t, client, srv.base+script+"/observe/tls")
		if !cs.DidResume {
			t.Errorf("the client's second connection did not resume its session")
		}
	}
	got := rep.TLS
	if got == nil {
		t.Fatalf("r.TLS is nil behind HTTPS; report %+v", rep)
	}
	if !got.HandshakeComplete {
		t.Errorf("HandshakeComplete false")
	}
	if got.Version != cs.Version {
		t.Errorf("Version %#04x, the client negotiated %#04x (%s)", got.Version, cs.Version, tls.VersionName(cs.Version))
	}
	if got.CipherSuite != cs.CipherSuite {
		t.Errorf("CipherSuite %#04x (%s), the client negotiated %#04x (%s)",
			got.CipherSuite, tls.CipherSuiteName(got.CipherSuite), cs.CipherSuite, tls.CipherSuiteName(cs.CipherSuite))
	}
	wantName := "localhost" // the client's SNI
	if srv.noSNI {
		wantName = ""
	}
	if got.ServerName != wantName {
		t.Errorf("ServerName %q, want %q (the server passes the client's SNI: %v)", got.ServerName, wantName, !srv.noSNI)
	}
	if got.DidResume != (cs.DidResume && !srv.noResumed) {
		t.Errorf("DidResume %v, the client's %v (the server passes it: %v)", got.DidResume, cs.DidResume, !srv.noResumed)
	}
	wantPeers, wantChains := []string(nil), 0
	switch {
	case c.chain && srv.passesChain:
		wantPeers, wantChains = pki.chainSubjects, 1
	case c.chain:
		wantPeers, wantChains = pki.chainSubjects[:1], 1
	case c.clientCert:
		wantPeers, wantChains = []string{pki.clientSubject}, 1
	}
	if !slices.Equal(got.Peers, wantPeers) {
		t.Errorf("PeerCertificates' subjects %q, want %q", got.Peers, wantPeers)
	}
	if got.VerifiedChains != wantChains {
		t.Errorf("%d VerifiedChains, want %d (the server verified the client's certificate: SSL_CLIENT_VERIFY SUCCESS)", got.VerifiedChains, wantChains)
	}
	if rep.Host != "localhost:"+strconv.Itoa(srv.port) && rep.Host != "localhost" {
		t.Errorf("Host %q", rep.Host)
	}
}

// checkUntrusted presents a client certificate that no trusted CA signed:
// with optional verification, the request must never reach the app.
func checkUntrusted(t *testing.T, srv *tlsServer, pki *testPKI, script string) {
	client := srv.client(pki, tlsCase{version: tls.VersionTLS13})
	// Certificates alone would send none: Go's client sends only a
	// certificate one of the server's CAs signed.
	client.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &pki.untrusted, nil
	}
	url := srv.base + script + "/observe/tls"
	switch srv.untrusted {
	case "handshake":
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("status %d, report %q: want the handshake refused", resp.StatusCode, resp.Header.Get(observe.HeaderName))
		}
	case "400":
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("GET: %v; want the server's own 400", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get(observe.HeaderName) != "" {
			t.Errorf("status %d, report %q; want the server's own 400; body:\n%s",
				resp.StatusCode, resp.Header.Get(observe.HeaderName), clip(body))
		}
	case "dropped":
		rep, _ := observeTLS(t, client, url)
		if rep.TLS == nil || len(rep.TLS.Peers) != 0 || rep.TLS.VerifiedChains != 0 {
			t.Errorf("r.TLS %+v; want no PeerCertificates and no VerifiedChains", rep.TLS)
		}
	default:
		t.Fatalf("unknown untrusted %q", srv.untrusted)
	}
}

// observeTLS gets url with client and returns the handler's report and the
// client's side of the connection.
func observeTLS(t *testing.T, client *http.Client, url string) (*observe.Report, *tls.ConnectionState) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	if resp.TLS == nil {
		t.Fatalf("GET %s: no TLS on the client's side", url)
	}
	return report(t, resp, body), resp.TLS
}

// tlsServer is a web server that serves HTTPS on 127.0.0.1 as "localhost".
type tlsServer struct {
	*server
	port int
	tlsTraits
}

// tlsTraits is what a server does with TLS, as measured.
type tlsTraits struct {
	// passesChain: the server passes the certificates the client sent
	// after its own (SSL_CLIENT_CERT_CHAIN_n).
	passesChain bool
	// noSNI: the server does not pass the name the client asked for.
	noSNI bool
	// noResumed: the server does not say whether the session was resumed.
	noResumed bool
	// untrusted is what becomes of a client certificate that does not
	// verify: "handshake" (the server ends the handshake), "400" (the
	// server answers 400 itself) or "dropped" (the request reaches the app
	// without the certificate).
	untrusted string
}

// client returns an HTTP client for srv that offers only c.version, trusts
// the test CA, asks for "localhost" (SNI and Host) and presents the client
// certificate when c says so. Each request has a connection of its own.
func (srv *tlsServer) client(pki *testPKI, c tlsCase) *http.Client {
	cfg := &tls.Config{
		RootCAs:    pki.roots,
		ServerName: "localhost",
		MinVersion: c.version,
		MaxVersion: c.version,
	}
	switch {
	case c.chain:
		cfg.Certificates = []tls.Certificate{pki.chained}
	case c.clientCert:
		cfg.Certificates = []tls.Certificate{pki.client}
	}
	if c.resume {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	}
	addr := "127.0.0.1:" + strconv.Itoa(srv.port)
	dialer := &net.Dialer{Timeout: requestLimit}
	return &http.Client{
		Timeout: requestLimit,
		Transport: &http.Transport{
			TLSClientConfig:   cfg,
			DisableKeepAlives: true,
			// "localhost" may resolve to ::1 first; the servers listen on
			// 127.0.0.1 only.
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, addr)
			},
		},
	}
}

// tlsConf is what the HTTPS templates are rendered with: a server's
// confData and the test PKI's files.
type tlsConf struct {
	*confData
	TLSPort  int    // the HTTPS port on 127.0.0.1
	CertFile string // the server's certificate for localhost, PEM
	KeyFile  string // its key, PEM
	CAFile   string // the CA that signed the client certificates, PEM
}

// newTLSConf prepares a server's prefix with the PKI's files; the server
// listens on TLSPort, which is c.Port.
func newTLSConf(t *testing.T, pki *testPKI, unprivileged bool) *tlsConf {
	t.Helper()
	c := newConf(t, unprivileged)
	tc := &tlsConf{confData: c, TLSPort: c.Port,
		CertFile: filepath.Join(c.Dir, "server.pem"),
		KeyFile:  filepath.Join(c.Dir, "server.key"),
		CAFile:   filepath.Join(c.Dir, "ca.pem")}
	mustWrite(t, tc.CertFile, string(pki.serverCert), 0o644)
	mustWrite(t, tc.KeyFile, string(pki.serverKey), 0o600)
	mustWrite(t, tc.CAFile, string(pki.caCert), 0o644)
	return tc
}

// renderTLS writes the template docs/conf/tmpl, filled with c, to
// c.Dir/out, as render does, and returns the file's path.
func renderTLS(t *testing.T, c *tlsConf, tmpl, out string) string {
	t.Helper()
	tp, err := template.New(tmpl).Option("missingkey=error").ParseGlob(filepath.Join(confDir, "*"))
	mustDo(t, err)
	var b bytes.Buffer
	if err := tp.ExecuteTemplate(&b, tmpl, c); err != nil {
		t.Fatalf("rendering %s: %v", filepath.Join(confDir, tmpl), err)
	}
	name := filepath.Join(c.Dir, out)
	mustWrite(t, name, b.String(), 0o644)
	return name
}

// startNginxTLS runs nginx with docs/conf/nginx-tls.conf.tmpl: /fcgi to
// `cgiref fcgi`, /scgi to `cgiref scgi`.
func startNginxTLS(t *testing.T, pki *testPKI) *tlsServer {
	t.Helper()
	c := newTLSConf(t, pki, false)
	s := newServer(t, "nginx-tls", c.confData)
	s.logs = append(s.logs, filepath.Join(c.Dir, "error.log"))
	s.startBackend(t, "fcgi-tcp", "fcgi", c.FCGIAddr)
	s.startBackend(t, "scgi", "scgi", c.SCGIAddr)
	for _, f := range []string{"cgiref_fastcgi_params", "cgiref_scgi_params", "cgiref_fastcgi_tls_params", "cgiref_scgi_tls_params"} {
		renderTLS(t, c, f, f)
	}
	conf := renderTLS(t, c, "nginx-tls.conf.tmpl", "nginx.conf")
	s.start(t, nil, "nginx", "-p", c.Dir, "-c", conf, "-e", filepath.Join(c.Dir, "error.log"), "-g", "daemon off;")
	return newTLSServer(s, c, tlsTraits{untrusted: "400"})
}

// startApacheTLS runs Apache (event MPM, mod_cgid) with
// docs/conf/apache-tls.conf.tmpl: the deployments of docs/apache.md behind
// mod_ssl.
func startApacheTLS(t *testing.T, pki *testPKI) *tlsServer {
	t.Helper()
	c := newTLSConf(t, pki, true)
	s := newServer(t, "apache-tls", c.confData)
	s.logs = append(s.logs, filepath.Join(c.Dir, "error.log"))
	s.startBackend(t, "fcgi-tcp", "fcgi", c.FCGIAddr)
	s.startBackend(t, "scgi", "scgi", c.SCGIAddr)
	conf := renderTLS(t, c, "apache-tls.conf.tmpl", "apache.conf")
	s.start(t, nil, "apache2", "-d", c.Dir, "-f", conf, "-DFOREGROUND")
	return newTLSServer(s, c, tlsTraits{passesChain: true, untrusted: "handshake"})
}

// startLighttpdTLS runs lighttpd with docs/conf/lighttpd-tls.conf.tmpl:
// the deployments of docs/lighttpd.md (CGI, FastCGI to `cgiref fcgi`,
// SCGI) over HTTPS.
func startLighttpdTLS(t *testing.T, pki *testPKI) *tlsServer {
	t.Helper()
	c := newTLSConf(t, pki, true)
	s := newServer(t, "lighttpd-tls", c.confData)
	s.logs = append(s.logs, filepath.Join(c.Dir, "error.log"), filepath.Join(c.Dir, "breakage.log"))
	s.startBackend(t, "fcgi-tcp", "fcgi", c.FCGIAddr)
	s.startBackend(t, "scgi", "scgi", c.SCGIAddr)
	conf := renderTLS(t, c, "lighttpd-tls.conf.tmpl", "lighttpd.conf")
	s.start(t, nil, "lighttpd", "-D", "-f", conf)
	return newTLSServer(s, c, tlsTraits{noSNI: true, noResumed: true, untrusted: "dropped"})
}

// startCaddyTLS runs Caddy with docs/conf/Caddyfile-tls.tmpl: /fcgi to
// `cgiref fcgi` over HTTPS.
func startCaddyTLS(t *testing.T, pki *testPKI) *tlsServer {
	t.Helper()
	c := newTLSConf(t, pki, false)
	s := newServer(t, "caddy-tls", c.confData)
	s.logs = append(s.logs, filepath.Join(c.Dir, "error.log"))
	s.startBackend(t, "fcgi-tcp", "fcgi", c.FCGIAddr)
	conf := renderTLS(t, c, "Caddyfile-tls.tmpl", "Caddyfile")
	home := filepath.Join(c.Dir, "caddy")
	env := []string{"HOME=" + home, "XDG_DATA_HOME=" + home, "XDG_CONFIG_HOME=" + home}
	s.start(t, env, "caddy", "run", "--config", conf, "--adapter", "caddyfile")
	return newTLSServer(s, c, tlsTraits{noResumed: true, untrusted: "handshake"})
}

func newTLSServer(s *server, c *tlsConf, traits tlsTraits) *tlsServer {
	s.base = "https://localhost:" + strconv.Itoa(c.TLSPort)
	return &tlsServer{server: s, port: c.TLSPort, tlsTraits: traits}
}

// testPKI is a CA made for one test run, a server certificate it signed for
// localhost and 127.0.0.1, a client certificate it signed, and a client
// certificate signed by an intermediate CA it signed.
type testPKI struct {
	caCert, serverCert, serverKey []byte // PEM
	roots                         *x509.CertPool
	client                        tls.Certificate
	clientSubject                 string // the client certificate's Subject.String()
	chained                       tls.Certificate
	chainSubjects                 []string        // the chained certificate's subject, then the intermediate's
	untrusted                     tls.Certificate // a self-signed client certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	now := time.Now()
	caKey := newKey(t)
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"cgiref"}, CommonName: "cgiref test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	mustDo(t, err)
	ca, err = x509.ParseCertificate(caDER)
	mustDo(t, err)

	sign := func(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) ([]byte, *ecdsa.PrivateKey, *x509.Certificate) {
		key := newKey(t)
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		mustDo(t, err)
		c, err := x509.ParseCertificate(der)
		mustDo(t, err)
		return der, key, c
	}
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage) *x509.Certificate {
		return &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{Organization: []string{"cgiref"}, OrganizationalUnit: []string{"tests"}, CommonName: cn},
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
	}
	srvTmpl := leaf(2, "localhost", x509.ExtKeyUsageServerAuth)
	srvTmpl.DNSNames, srvTmpl.IPAddresses = []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}
	serverDER, serverKey, _ := sign(srvTmpl, ca, caKey)
	clientDER, clientKey, clientLeaf := sign(leaf(3, "cgiref test client", x509.ExtKeyUsageClientAuth), ca, caKey)
	interDER, interKey, inter := sign(&x509.Certificate{
		SerialNumber:          big.NewInt(4),
		Subject:               pkix.Name{Organization: []string{"cgiref"}, CommonName: "cgiref test client CA"},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}, ca, caKey)
	chainedDER, chainedKey, chainedLeaf := sign(leaf(5, "cgiref test chained client", x509.ExtKeyUsageClientAuth), inter, interKey)

	untrustedTmpl := leaf(6, "cgiref untrusted client", x509.ExtKeyUsageClientAuth)
	untrustedKey := newKey(t)
	untrustedTmpl.NotBefore, untrustedTmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
	untrustedDER, err := x509.CreateCertificate(rand.Reader, untrustedTmpl, untrustedTmpl, &untrustedKey.PublicKey, untrustedKey)
	mustDo(t, err)

	p := &testPKI{
		caCert:        pemBlock("CERTIFICATE", caDER),
		serverCert:    pemBlock("CERTIFICATE", serverDER),
		serverKey:     pemBlock("EC PRIVATE KEY", marshalKey(t, serverKey)),
		roots:         x509.NewCertPool(),
		client:        tls.Certificate{Certificate: [][]byte{clientDER}, PrivateKey: clientKey, Leaf: clientLeaf},
		clientSubject: clientLeaf.Subject.String(),
		chained:       tls.Certificate{Certificate: [][]byte{chainedDER, interDER}, PrivateKey: chainedKey, Leaf: chainedLeaf},
		chainSubjects: []string{chainedLeaf.Subject.String(), inter.Subject.String()},
		untrusted:     tls.Certificate{Certificate: [][]byte{untrustedDER}, PrivateKey: untrustedKey},
	}
	p.roots.AddCert(ca)
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mustDo(t, err)
	return k
}

func marshalKey(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k)
	mustDo(t, err)
	return der
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
