// Package fcgi runs net/http handlers as a FastCGI application, through
// the gateway core: each request's records become a CGI environ and
// streams, and gateway.NewBaseCGI runs the handler (Multithread true,
// Multiprocess false).
//
// It is a drop-in for net/http/fcgi (Serve, ProcessEnv,
// ErrRequestAborted, ErrConnClosed) and also serves the authorizer and
// filter roles. Where net/http/fcgi falls short it does not:
//
//   - FCGI_ABORT_REQUEST and a closed connection cancel the request's
//     context (its cause is ErrRequestAborted or ErrConnClosed), make body
//     reads fail with that error and later writes fail, and the request
//     still gets exactly one FCGI_END_REQUEST, once its handler returns.
//   - The connection's read loop never waits for a handler, so a handler
//     that does not read its body does not hold up the other requests on
//     the same connection: a request's unread input is kept in memory up
//     to Server.BodyMemory and past that in a temporary file.
//   - A panicking handler gets the gateway's 500 answer; the process and
//     the other requests carry on.
//   - FCGI_GET_VALUES is answered with exactly the known variables asked
//     for, other management records get FCGI_UNKNOWN_TYPE, request id 0 is
//     never a request, and PARAMS have a size limit.
//   - gateway.Errors(r) writes FCGI_STDERR records; Server offers limits,
//     timeouts and a graceful Shutdown.
//
// A malformed record stream (a bad version, a truncated record, a
// name-value length running past its stream, PARAMS over the limit,
// BEGIN_REQUEST with id 0) closes its connection with a logged error; other
// connections are untouched.
package fcgi
