package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/cgiref/cgiref/environ"
)

// Flags describe the server a request runs under, as wsgi.multithread,
// wsgi.multiprocess, wsgi.run_once and wsgi.url_scheme do.
type Flags struct {
	Multithread, Multiprocess, RunOnce bool
	Scheme                             string // "http" or "https"
}

// requestInfo is what a gateway attaches to each request's context.
type requestInfo struct {
	env    environ.Environ // the front end's, or nil when it gave pairs
	pairs  environ.Pairs   // read only while Run runs when relist is set
	relist environ.Lister  // lists pairs again, for Environ
	// software is the SERVER_SOFTWARE that Run added to pairs, for the
	// pairs relist gives.
	software string
	once     sync.Once
	made     environ.Environ // made from pairs, on the app's first call of Environ
	errors   io.Writer
	flags    Flags
}

// environ returns the request's environ, made from its pairs on the first
// call when the front end gave pairs.
func (ri *requestInfo) environ() environ.Environ {
	if ri.env != nil || ri.pairs == nil && ri.relist == nil {
		return ri.env
	}
	ri.once.Do(func() { ri.made = ri.listPairs().Environ() })
	return ri.made
}

// listPairs returns the request's pairs: listed again when the front end
// may reuse those it gave.
func (ri *requestInfo) listPairs() environ.Pairs {
	if ri.relist == nil {
		return ri.pairs
	}
	pairs := ri.relist.ListPairs()
	if ri.software != "" {
		pairs = append(pairs, environ.Pair{Name: "SERVER_SOFTWARE", Value: ri.software})
	}
	return pairs
}

type contextKey struct{}

// NewContext returns a copy of parent that carries a request's environ,
// error stream and flags, for servers that run apps without Handler (such
// as package simple) but want Environ, Errors and RequestFlags to answer as
// they do under a gateway.
func NewContext(parent context.Context, env environ.Environ, errors io.Writer, flags Flags) context.Context {
	return withInfo(parent, &requestInfo{env: env, errors: errors, flags: flags})
}

func withInfo(parent context.Context, ri *requestInfo) context.Context {
	return &reqContext{Context: parent, info: ri}
}

// reqContext is a request's context: its parent's deadline, cancellation
// and values, plus the request's info. Run keeps it inside the request's
// exchange, so that it costs no allocation of its own.
type reqContext struct {
	context.Context
	info *requestInfo
}

// Value returns the request's info for the gateway's key, and the parent's
// values otherwise.
func (c *reqContext) Value(key any) any {
	if _, ok := key.(contextKey); ok {
		return c.info
	}
	return c.Context.Value(key)
}

func (c *reqContext) String() string {
	return fmt.Sprint(c.Context) + ".WithValue(gateway.contextKey, request info)"
}

func info(r *http.Request) *requestInfo {
	if r == nil {
		return nil
	}
	ctx := r.Context()
	if c, ok := ctx.(*reqContext); ok {
		return c.info
	}
	ri, _ := ctx.Value(contextKey{}).(*requestInfo)
	return ri
}

// Environ returns the environ the request was built from, or nil outside a
// gateway.
func Environ(r *http.Request) environ.Environ {
	if ri := info(r); ri != nil {
		return ri.environ()
	}
	return nil
}

// Errors returns the request's error stream (wsgi.errors): the web server's
// error log under CGI and FastCGI. Outside a gateway it is io.Discard, so
// that writing to it is always safe.
func Errors(r *http.Request) io.Writer {
	if ri := info(r); ri != nil && ri.errors != nil {
		return ri.errors
	}
	return io.Discard
}

// RequestFlags returns the flags of the server the request runs under. Outside
// a gateway only Scheme is set, from r.TLS.
func RequestFlags(r *http.Request) Flags {
	if ri := info(r); ri != nil {
		return ri.flags
	}
	f := Flags{Scheme: "http"}
	if r != nil && r.TLS != nil {
		f.Scheme = "https"
	}
	return f
}
