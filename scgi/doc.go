// Package scgi is the SCGI front end: it serves net/http Handlers to a web
// server that speaks SCGI (nginx's scgi_pass, lighttpd's mod_scgi, Apache's
// mod_proxy_scgi).
//
// Each connection carries one request: a netstring holding NUL-separated
// header pairs (the CGI environ), then exactly CONTENT_LENGTH bytes of body.
// The header is parsed strictly as https://python.ca/scgi/protocol.txt
// describes it: a netstring length without leading zeros, CONTENT_LENGTH as
// the first pair with a value of decimal digits, an SCGI pair of value 1, no
// CGI variable twice, every name and value NUL-terminated. A repeated HTTP_*
// name (nginx before 1.23 passes a repeated request field so) is one
// variable, its values joined with ", " ("; " for HTTP_COOKIE). The request runs through
// the gateway core (gateway.NewBaseCGI) and the answer goes back CGI-style,
// with a Status field first; the connection is closed after it.
//
// A header that breaks the protocol is answered with "400 Bad Request" when
// an answer is still possible, logged, and its connection closed.
//
// The body is streamed from the connection to the handler, never held whole
// in memory; a connection that ends before CONTENT_LENGTH bytes gives the
// handler io.ErrUnexpectedEOF. Once the body has been read to its end, the
// connection is watched: when the web server closes it (its client went
// away), the request's context is cancelled with ErrConnClosed as its cause
// and later writes fail with an error that matches net.ErrClosed. While the
// body is still unread nothing can be watched without taking body bytes, so
// a handler that never reads a non-empty body learns of a closed connection
// only from a failing write.
//
// # Security
//
// SCGI has no authentication: whoever can connect to the socket can claim any
// REMOTE_ADDR, REMOTE_USER or HTTPS and reach the application directly.
// Listen on a unix socket whose file permissions admit only the web server,
// or on a loopback address (127.0.0.1, ::1) on a host whose users are
// trusted; use Server.AllowedAddrs as a second line of defence when the web
// server runs on another host.
package scgi
