// Package validate is a conformance-checking middleware for http.Handler,
// the counterpart of Python's wsgiref.validate.
//
// Validator wraps an application and checks, on every request, both sides of
// the gateway: the CGI environ the server produced and what the application
// does with the request body and the http.ResponseWriter. It never changes
// the request or the response; it only watches them.
//
// # Violations and warnings
//
// A violation panics with a *Error in the goroutine that committed it, so
// that a gateway (or net/http.Server) answers 500 when the response was not
// yet committed, and logs the panic value. Error.Rule names the broken rule
// (the names are listed below), Error.Detail says what was seen.
//
// Questionable but legal behaviour is a warning: one line
// "validate: warning: <rule>: <detail>" written to gateway.Errors(r), the
// request's error stream (wsgi.errors). Outside a gateway, where that stream
// is io.Discard, the warning goes to slog.Default() at level Warn instead.
//
// Two kinds of violation are not raised in the goroutine of the offence, because
// that may not be the handler's goroutine and a panic there would bring the
// whole process down:
//
//   - a Write, WriteHeader, Flush or ReadFrom after the handler returned
//     (a ResponseWriter kept by a goroutine that outlives the request) is not
//     forwarded; Write, ReadFrom and FlushError (what
//     http.ResponseController.Flush calls) return the *Error, and the violation is
//     reported as a line "validate: <rule>: <detail>" on the error stream
//     (slog.Default() at level Error outside a gateway);
//   - a request body that yields more than CONTENT_LENGTH bytes is cut at
//     CONTENT_LENGTH; the Read returns the *Error, and the violation panics
//     when the handler returns, so bodies read by a helper goroutine are safe.
//
// # The environ
//
// The environ checked is gateway.Environ(r); outside a gateway (for instance
// under net/http.Server or httptest) it is environ.FromRequest(r). These
// checks run before the application is called.
//
// Every check of wsgiref.validate, and how it maps to Go:
//
//   - The application must be called with exactly two positional arguments:
//     not applicable, ServeHTTP's signature fixes them.
//   - The environ must be exactly a dict. Not applicable: environ.Environ is
//     a map type.
//   - Required keys REQUEST_METHOD, SERVER_NAME and SERVER_PORT: violation
//     "environ-missing". SERVER_PROTOCOL is required as well (net/http
//     needs it to build r.Proto). The required wsgi.* keys have no
//     environ entries in Go: wsgi.version does not apply; wsgi.input is
//     r.Body and wsgi.errors is gateway.Errors(r), both always present;
//     wsgi.multithread, wsgi.multiprocess and wsgi.run_once are
//     gateway.RequestFlags(r), a struct that is always complete.
//   - HTTP_CONTENT_TYPE and HTTP_CONTENT_LENGTH must be absent: a warning
//     "http-content-type" / "http-content-length" here, not a violation:
//     nginx's stock fastcgi_params send both, and environ.NewRequest
//     prefers CONTENT_TYPE and CONTENT_LENGTH, so no field is doubled.
//   - QUERY_STRING absent: warning "query-string", as in wsgiref.
//   - Every undotted key must hold a str: not applicable, values are Go
//     strings by type.
//   - wsgi.version must be a tuple: not applicable.
//   - wsgi.url_scheme must be "http" or "https": violation "url-scheme",
//     checked on gateway.RequestFlags(r).Scheme.
//   - wsgi.input and wsgi.errors must have the file methods: not
//     applicable, io.ReadCloser and io.Writer are enforced by the compiler.
//   - An unknown REQUEST_METHOD (not GET, HEAD, POST, OPTIONS, PATCH, PUT,
//     DELETE or TRACE): warning "method".
//   - SCRIPT_NAME and PATH_INFO must be empty or start with "/": violations
//     "script-name" and "path-info". wsgiref also requires both keys; Apache
//     and nginx omit an empty PATH_INFO, so here a missing key counts as
//     empty, and the check is that they are not both empty: violation
//     "path-empty".
//   - CONTENT_LENGTH, when not empty, must be a non-negative integer:
//     violation "content-length-environ". Plain decimal digits only, as
//     environ.NewRequest reads them (Python's int() also takes "+5" and
//     " 5 ").
//   - SCRIPT_NAME must not be "/": violation "script-name".
//
// # The request body (wsgi.input)
//
//   - read() must get exactly one argument, readline and readlines at most
//     one, and each must return bytes: not applicable, io.Reader's
//     signature fixes all of it.
//   - input.close() must not be called: not applicable. Closing r.Body is
//     legal in Go (the server closes it anyway).
//   - WSGI applications must not read past CONTENT_LENGTH (wsgiref does not
//     check it): a body that yields more bytes than CONTENT_LENGTH is a
//     violation "input-length" (see above for when it is raised).
//   - errors.close() must not be called, errors.write must get a str: not
//     applicable, gateway.Errors(r) is an io.Writer.
//
// # The response
//
// The header checks run when the response is committed: at the first final
// WriteHeader, or the first Write, ReadFrom or Flush, or when the handler
// returns having written nothing (an implicit 200).
//
//   - start_response must get 2 or 3 arguments, the status must be a str,
//     the headers a list of 2-tuples of str, exc_info None or a tuple:
//     not applicable, the Go types fix them.
//   - The status code must be three digits and at least 100: violation
//     "status" for a WriteHeader code outside 100..999.
//   - The status string should be "NNN reason": not applicable, the gateway
//     writes the reason phrase.
//   - start_response called twice without exc_info: violation
//     "write-header-twice" for a WriteHeader after the final status was
//     set, explicitly or by a Write. 1xx codes other than 101 are interim
//     answers in Go and may be followed by the final WriteHeader.
//   - A "Status" field (any letter case): violation "status-field".
//   - Header names and values: violation "header-field" when
//     headers.CheckField refuses the field (a name that is not an RFC 9110
//     token, a control character other than TAB in a value). wsgiref is
//     stricter: a name outside ^[a-zA-Z][a-zA-Z0-9\-_]*$ or ending in "-"
//     or "_", and a TAB in a value, are warnings "header-name" and
//     "header-value" here, since HTTP allows them.
//   - Hop-by-hop fields (wsgiref leaves this check to its handler):
//     violation "hop-by-hop" when headers.IsHopByHop reports a field name.
//   - Content-Type is required except for 1xx, 204 and 304, and forbidden
//     on 204 and 304: violation "content-type". A field set to a nil slice
//     (net/http's way to suppress one) counts as absent.
//   - write() must get bytes: not applicable, Write takes a []byte.
//   - The application must return an iterable that is not a str, and each
//     item must be bytes: not applicable, a handler returns nothing and
//     writes []byte.
//   - The validator's iterable has no len(), so wsgiref's handler never
//     adds a Content-Length to a validated application's answer: not
//     copied, Validator changes nothing in the answer, and the gateway's
//     Content-Length rule applies as without it.
//   - start_response must be called before the first body item: not
//     applicable, the first Write sends an implicit 200.
//   - No iteration after close(): violation "write-after-return", for
//     any use of the ResponseWriter after the handler returned.
//   - The iterable must be closed before it is garbage collected: not
//     applicable, a handler's return is its close.
//   - A Content-Length field must hold a non-negative decimal integer and
//     match the body: violation "content-length", raised at the Write that
//     goes past it, or when the handler returns with fewer bytes written.
//     The body count does not apply to HEAD requests, 1xx, 204 and 304
//     answers. wsgiref does not check it (its handler does).
//
// The wrapped ResponseWriter keeps http.Flusher and io.ReaderFrom, and has an
// Unwrap method so that http.ResponseController reaches the underlying
// writer for the calls it does not implement itself.
package validate
