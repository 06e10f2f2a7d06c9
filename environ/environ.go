// Package environ holds the CGI environ of one request and the utilities of
// Python's wsgiref.util: URL reconstruction, path shifting and testing
// defaults, plus conversion between an environ and a *http.Request.
package environ

// Environ is a CGI environ: variable names to values. Values are bytes held in
// Go strings; they need not be valid UTF-8.
type Environ map[string]string
