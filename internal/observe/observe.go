// Package observe reports what an http.Handler can observe of its request,
// so that the same handler run under net/http.Server and under every
// gateway can be compared field by field.
package observe

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
)

// HeaderName is the response field that carries the report, base64 (URL
// alphabet, no padding) of its JSON, so that a HEAD answer has it too.
const HeaderName = "X-Observe"

// maxBody bounds the body bytes a report reads.
const maxBody = 32 << 20

// Report is what a handler observes of its request.
type Report struct {
	Method           string
	URL              URL
	RequestURI       string
	Host             string
	Proto            string
	ProtoMajor       int
	ProtoMinor       int
	ContentLength    int64
	TransferEncoding []string
	NoBody           bool // r.Body == http.NoBody
	Header           http.Header
	Cookies          []string // r.Cookies(), as name=value
	Trailer          http.Header
	TLS              *TLS
	RemoteAddr       string
	RemoteShape      string // "ip:port", "ip" or "other"
	BodyLen          int
	BodySHA256       string
	BodyError        string // "" when the body read to its end
	Close            bool
}

// URL is r.URL's parts.
type URL struct {
	Scheme, Opaque, User, Host, Path, RawPath string
	ForceQuery                                bool
	RawQuery, Fragment                        string
	EscapedPath, String                       string
}

// TLS is what r.TLS says, when it is not nil.
type TLS struct {
	Version           uint16
	CipherSuite       uint16
	ServerName        string
	HandshakeComplete bool
	DidResume         bool
	Peers             []string // subjects of PeerCertificates
	VerifiedChains    int
}

// Observe reads r's body to its end (at most 32 MiB) and reports r.
func Observe(r *http.Request) *Report {
	rep := &Report{
		Method:           r.Method,
		RequestURI:       r.RequestURI,
		Host:             r.Host,
		Proto:            r.Proto,
		ProtoMajor:       r.ProtoMajor,
		ProtoMinor:       r.ProtoMinor,
		ContentLength:    r.ContentLength,
		TransferEncoding: r.TransferEncoding,
		NoBody:           r.Body == http.NoBody,
		Header:           r.Header,
		RemoteAddr:       r.RemoteAddr,
		RemoteShape:      shape(r.RemoteAddr),
		Close:            r.Close,
	}
	if u := r.URL; u != nil {
		rep.URL = URL{Scheme: u.Scheme, Opaque: u.Opaque, Host: u.Host, Path: u.Path, RawPath: u.RawPath,
			ForceQuery: u.ForceQuery, RawQuery: u.RawQuery, Fragment: u.Fragment,
			EscapedPath: u.EscapedPath(), String: u.String()}
		if u.User != nil {
			rep.URL.User = u.User.String()
		}
	}
	for _, c := range r.Cookies() {
		rep.Cookies = append(rep.Cookies, c.Name+"="+c.Value)
	}
	if r.TLS != nil {
		rep.TLS = tlsReport(r.TLS)
	}
	if r.Body != nil {
		h := sha256.New()
		n, err := io.Copy(h, io.LimitReader(r.Body, maxBody))
		rep.BodyLen = int(n)
		rep.BodySHA256 = hex.EncodeToString(h.Sum(nil))
		if err != nil {
			rep.BodyError = err.Error()
		}
	}
	rep.Trailer = r.Trailer
	return rep
}

func tlsReport(cs *tls.ConnectionState) *TLS {
	t := &TLS{Version: cs.Version, CipherSuite: cs.CipherSuite, ServerName: cs.ServerName,
		HandshakeComplete: cs.HandshakeComplete, DidResume: cs.DidResume, VerifiedChains: len(cs.VerifiedChains)}
	for _, c := range cs.PeerCertificates {
		t.Peers = append(t.Peers, c.Subject.String())
	}
	return t
}

// shape classifies a RemoteAddr: "ip:port", "ip" or "other".
func shape(addr string) string {
	if host, port, err := net.SplitHostPort(addr); err == nil && port != "" {
		if _, err := netip.ParseAddr(host); err == nil {
			return "ip:port"
		}
	}
	if _, err := netip.ParseAddr(addr); err == nil {
		return "ip"
	}
	return "other"
}

// Handler answers every request with the report of it: JSON in the body
// and, encoded, in the X-Observe field.
func Handler(w http.ResponseWriter, r *http.Request) {
	b, err := json.Marshal(Observe(r))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set(HeaderName, base64.RawURLEncoding.EncodeToString(b))
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// Decode returns the report an X-Observe field holds.
func Decode(field string) (*Report, error) {
	b, err := base64.RawURLEncoding.DecodeString(field)
	if err != nil {
		return nil, err
	}
	rep := new(Report)
	if err := json.Unmarshal(b, rep); err != nil {
		return nil, err
	}
	return rep, nil
}
