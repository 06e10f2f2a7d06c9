// Package environ holds the CGI environ of one request and the utilities of
// Python's wsgiref.util: URL reconstruction (ApplicationURI, RequestURI),
// path shifting (ShiftPathInfo), testing defaults (SetupTestingDefaults) and
// scheme guessing (GuessScheme), plus the conversions between an environ and
// a *http.Request (NewRequest, FromRequest).
//
// Values are bytes held in Go strings: nothing here assumes UTF-8, and URL
// quoting works byte by byte as Python's quote does with latin-1.
//
// # The request an app sees
//
// NewRequest builds the request an http.Handler would get from
// net/http.Server for the same client request, wherever the environ lets it
// know:
//
//   - REQUEST_METHOD is required.
//   - r.URL and r.RequestURI come from REQUEST_URI, parsed as net/http.Server
//     parses a request target; r.URL is in origin form (no scheme, no host).
//     When REQUEST_URI is absent or does not parse, r.URL is
//     SCRIPT_NAME+PATH_INFO taken as the decoded path (never re-parsed) with
//     QUERY_STRING as its raw query; r.RequestURI is then REQUEST_URI if
//     present, else the escaped path and the query.
//   - r.Host is HTTP_HOST when not empty, else SERVER_NAME (bracketed when it
//     is an IPv6 address) with ":"+SERVER_PORT unless that is the scheme's
//     default port.
//   - HTTP_X_FOO becomes the field X-Foo. HTTP_HOST is not kept in the header.
//     CONTENT_TYPE wins over HTTP_CONTENT_TYPE; HTTP_CONTENT_LENGTH never
//     becomes a field of its own, since only CONTENT_LENGTH describes the
//     body the handler reads.
//   - A field the client sent on several lines is one field, its values
//     joined with ", " ("; " for Cookie): that is how web servers pass it,
//     and Environ.Add joins the repeated pairs of nginx before 1.23 so. A
//     Cookie value that a web server joined with ", " (Apache, Caddy) gets
//     "; " between its cookie-pairs, so r.Cookie finds every cookie.
//   - Empty CONTENT_TYPE and CONTENT_LENGTH count as absent. CONTENT_LENGTH
//     must be plain decimal digits; it becomes r.ContentLength, and the body
//     is exactly that many bytes of body (a short body reads
//     io.ErrUnexpectedEOF).
//   - A request without a body (CONTENT_LENGTH 0, or a body argument that is
//     nil or http.NoBody) has r.ContentLength 0 and r.Body http.NoBody.
//   - The Content-Length field is there when the length is above 0, or when
//     it is 0 and the client sent the field: the server passed
//     HTTP_CONTENT_LENGTH too (nginx, lighttpd), or the method is POST, PUT
//     or PATCH, whose clients send "Content-Length: 0" for an empty body.
//     Web servers that pass CONTENT_LENGTH 0 on every bodiless request
//     (lighttpd, Caddy, SCGI) thus add no field to a GET.
//   - A known length never comes with Transfer-Encoding: a chunked body that
//     the web server read whole and passed with CONTENT_LENGTH (nginx,
//     lighttpd, Apache mod_proxy_fcgi) has no Transfer-Encoding field and no
//     r.TransferEncoding. A body of unknown length (no CONTENT_LENGTH, a
//     body to read to its end: Apache's chunked CGI bodies, Caddy) has
//     r.ContentLength -1 and r.TransferEncoding ["chunked"], as net/http
//     gives a chunked request.
//   - SERVER_PROTOCOL gives r.Proto ("HTTP/" in any letter case, written in
//     upper case); absent or "INCLUDED" means HTTP/1.0.
//   - HTTPS "on", "yes" or "1", in any letter case, gives a non-nil r.TLS
//     with HandshakeComplete, filled from the SSL_* variables the web server
//     passes (mod_ssl's names): SSL_PROTOCOL, SSL_CIPHER (OpenSSL or IANA
//     names), SSL_TLS_SNI or SSL_SERVER_NAME, SSL_SESSION_RESUMED,
//     SSL_CLIENT_CERT and SSL_CLIENT_CERT_CHAIN_n (PEM, plain, with spaces or
//     URL-escaped; or base64 DER) as PeerCertificates, and, when
//     SSL_CLIENT_VERIFY is SUCCESS, those as the one VerifiedChains entry.
//     docs/tls.md lists the configuration each web server needs.
//   - r.RemoteAddr is REMOTE_ADDR, joined with REMOTE_PORT when present.
//   - r.Close is false: the web server owns the client's connection.
//
// # What an app can still tell
//
// Some things the environ does not carry; an app can tell them apart from
// net/http.Server only through them:
//
//   - A field sent on several lines arrives as one, joined (see above).
//   - A Cookie line whose value holds ", name=" where the client meant it
//     as part of one cookie's value is split there.
//   - A chunked body the web server read whole arrives with its length.
//   - "Content-Length: 0" that a client sent on a GET, HEAD or DELETE is
//     lost behind servers that pass no HTTP_CONTENT_LENGTH (Apache); one
//     that a client did not send on an empty POST, PUT or PATCH appears
//     behind servers that pass CONTENT_LENGTH 0 anyway.
//   - r.TLS holds only what the server passes: no OCSP response, no
//     signed certificate timestamps, no ALPN protocol, no exporter; a
//     VerifiedChains entry is the chain the server verified, as it passed it.
//   - r.RemoteAddr has no port when the server passes no REMOTE_PORT.
//   - Trailers of a chunked body never arrive; r.Trailer is nil.
//   - Whatever the web server itself changes before the request reaches the
//     gateway (fields it adds, the Host it passes); the integration tests
//     keep the list for nginx, lighttpd, Apache and Caddy (README.md).
//
// An environ NewRequest cannot use gives a *RequestError; a variable that
// may not repeat, given twice to Environ.Add, a *RepeatedVarError.
package environ
