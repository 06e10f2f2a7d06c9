// Package environ holds the CGI environ of one request and the utilities of
// Python's wsgiref.util: URL reconstruction (ApplicationURI, RequestURI),
// path shifting (ShiftPathInfo), testing defaults (SetupTestingDefaults) and
// scheme guessing (GuessScheme), plus the conversions between an environ and
// a *http.Request (NewRequest, FromRequest).
//
// Values are bytes held in Go strings: nothing here assumes UTF-8, and URL
// quoting works byte by byte as Python's quote does with latin-1.
//
// NewRequest builds the request an http.Handler would get from
// net/http.Server:
//
//   - REQUEST_METHOD is required.
//   - r.URL and r.RequestURI come from REQUEST_URI, parsed as net/http.Server
//     parses a request target. When REQUEST_URI is absent or does not parse,
//     r.URL is SCRIPT_NAME+PATH_INFO taken as the decoded path (never
//     re-parsed) with QUERY_STRING as its raw query; r.RequestURI is then
//     REQUEST_URI if present, else the escaped path and the query.
//   - r.Host is HTTP_HOST when not empty, else SERVER_NAME (bracketed when it
//     is an IPv6 address) with ":"+SERVER_PORT unless that is the scheme's
//     default port.
//   - HTTP_X_FOO becomes the field X-Foo. HTTP_HOST is not kept in the header.
//     CONTENT_TYPE wins over HTTP_CONTENT_TYPE; HTTP_CONTENT_LENGTH is
//     always dropped, since only CONTENT_LENGTH describes the body the
//     handler reads. HTTP_TRANSFER_ENCODING "chunked" sets r.TransferEncoding
//     and is not kept in the header, as net/http does.
//   - Empty CONTENT_TYPE and CONTENT_LENGTH count as absent. CONTENT_LENGTH
//     must be plain decimal digits; it becomes the Content-Length field and
//     r.ContentLength, and the body is exactly that many bytes of body (a
//     short body reads io.ErrUnexpectedEOF). Without CONTENT_LENGTH the body
//     is body to its end (r.ContentLength -1), or http.NoBody with
//     r.ContentLength 0 when body is nil.
//   - SERVER_PROTOCOL gives r.Proto ("HTTP/" in any letter case, written in
//     upper case); absent or "INCLUDED" means HTTP/1.0.
//   - HTTPS "on", "yes" or "1", in any letter case, gives a non-nil r.TLS.
//   - r.RemoteAddr is REMOTE_ADDR, joined with REMOTE_PORT when present.
//
// An environ NewRequest cannot use gives a *RequestError.
package environ
