package environ

import (
	"context"
	"io"
	"net/http"
	"strings"
)

// Source is an environ read one variable at a time: an Environ, or the
// Pairs a front end received before they are made into one.
type Source interface {
	// Lookup returns the variable's value and whether it is set.
	Lookup(name string) (value string, ok bool)
}

// Lookup returns env[name] and whether name is set.
func (env Environ) Lookup(name string) (string, bool) {
	v, ok := env[name]
	return v, ok
}

// Pair is one variable as a web server sent it.
type Pair struct{ Name, Value string }

// Pairs is an environ in the order a web server sent its variables (a
// FastCGI PARAMS stream, an SCGI header), before it is made into an
// Environ. A front end can build the request from Pairs directly
// (NewRequestFromPairs) and make the Environ only when the app asks for it.
//
// Pairs stand for the Environ that adding each pair in order gives (see
// Environ): a repeated HTTP_* field is joined, and any other repeated name
// keeps its last value, as FastCGI web servers mean it (nginx's
// "fastcgi_param SCRIPT_NAME" after "include fastcgi_params" overrides).
// A front end that refuses repeated names (SCGI) does so before.
type Pairs []Pair

// A Lister lists an environ's pairs on demand, each time in a slice of
// their own. A front end that decodes its pairs into a slice it reuses
// passes one (gateway.Handler.Relist), so that an app that asks for its
// Environ after the front end moved on still gets its own.
type Lister interface {
	ListPairs() Pairs
}

// Environ makes the Environ p stands for: each pair added in order with
// Environ.Add, and a repeated name that Add refuses set to its later value.
func (p Pairs) Environ() Environ {
	env := make(Environ, len(p))
	for _, v := range p {
		if env.Add(v.Name, v.Value) != nil {
			env[v.Name] = v.Value // a meta-variable set again: the override wins
		}
	}
	return env
}

// Lookup returns the value name has in p.Environ(), without building it.
func (p Pairs) Lookup(name string) (string, bool) {
	if !Joined(name) {
		for i := len(p) - 1; i >= 0; i-- {
			if p[i].Name == name {
				return p[i].Value, true // the last one: an override wins
			}
		}
		return "", false
	}
	first, n := -1, 0
	for i := range p {
		if p[i].Name == name {
			if first < 0 {
				first = i
			}
			n++
		}
	}
	switch n {
	case 0:
		return "", false
	case 1:
		return p[first].Value, true
	}
	env := Environ{}
	for _, v := range p[first:] {
		if v.Name == name {
			_ = env.Add(v.Name, v.Value) // an HTTP_* field: joined, never refused
		}
	}
	return env[name], true
}

// Get returns the value name has in p.Environ(), "" when it is not set.
func (p Pairs) Get(name string) string {
	v, _ := p.Lookup(name)
	return v
}

// NewRequestFromPairs is NewRequestWithContext for the Environ that p stands
// for, built without making that Environ: the request is the same, field for
// field.
func NewRequestFromPairs(ctx context.Context, p Pairs, body io.Reader) (*http.Request, error) {
	var store [32]variable
	var vars cgiVars
	fields, ok := vars.fromPairs(p, store[:0])
	if !ok {
		return NewRequestWithContext(ctx, p.Environ(), body)
	}
	var r http.Request // does not escape: WithContext returns a copy
	if err := vars.fill(&r, body, fields); err != nil {
		return nil, err
	}
	return r.WithContext(ctx), nil
}

// maxPairFields bounds the HTTP_* fields that fromPairs checks for repeats
// pair by pair; past it the Environ is made (a map checks them at once).
const maxPairFields = 64

// cgiVars are the variables a request is built from, read from an environ
// once.
type cgiVars struct {
	env   Environ // the environ read, or
	pairs Pairs   // the pairs read, for the rest (SSL_*)

	method, proto, contentLength, contentType, https string
	requestURI, scriptName, pathInfo, query          string
	httpHost, serverName, serverPort                 string
	remoteAddr, remotePort                           string
	hasHTTPContentLength                             bool
}

// fromEnviron reads the variables of env and appends the HTTP_* ones to
// fields.
func (v *cgiVars) fromEnviron(env Environ, fields []variable) []variable {
	*v = cgiVars{
		env:    env,
		method: env["REQUEST_METHOD"], proto: env["SERVER_PROTOCOL"],
		contentLength: env["CONTENT_LENGTH"], contentType: env["CONTENT_TYPE"], https: env["HTTPS"],
		requestURI: env["REQUEST_URI"], scriptName: env["SCRIPT_NAME"], pathInfo: env["PATH_INFO"],
		query: env["QUERY_STRING"], httpHost: env["HTTP_HOST"],
		serverName: env["SERVER_NAME"], serverPort: env["SERVER_PORT"],
		remoteAddr: env["REMOTE_ADDR"], remotePort: env["REMOTE_PORT"],
	}
	for k, val := range env {
		if strings.HasPrefix(k, "HTTP_") {
			fields = append(fields, variable{k, val})
			if k == "HTTP_CONTENT_LENGTH" {
				v.hasHTTPContentLength = true
			}
		}
	}
	return fields
}

// fromPairs reads the variables of p in one pass, a later value of a
// meta-variable overriding an earlier one as in p.Environ(), and appends
// the HTTP_* ones to fields. It reports false, and p's Environ must be made
// instead, when an HTTP_* name repeats (its values are joined) or there are
// more than maxPairFields of them.
func (v *cgiVars) fromPairs(p Pairs, fields []variable) ([]variable, bool) {
	*v = cgiVars{pairs: p}
	for _, pv := range p {
		name, val := pv.Name, pv.Value
		if strings.HasPrefix(name, "HTTP_") {
			if len(fields) == maxPairFields {
				return nil, false
			}
			for _, f := range fields {
				if f.name == name {
					return nil, false
				}
			}
			fields = append(fields, variable{name, val})
			switch name {
			case "HTTP_HOST":
				v.httpHost = val
			case "HTTP_CONTENT_LENGTH":
				v.hasHTTPContentLength = true
			}
			continue
		}
		v.set(name, val)
	}
	return fields, true
}

// set records a meta-variable that requests are built from.
func (v *cgiVars) set(name, val string) {
	switch name {
	case "REQUEST_METHOD":
		v.method = val
	case "SERVER_PROTOCOL":
		v.proto = val
	case "CONTENT_LENGTH":
		v.contentLength = val
	case "CONTENT_TYPE":
		v.contentType = val
	case "HTTPS":
		v.https = val
	case "REQUEST_URI":
		v.requestURI = val
	case "SCRIPT_NAME":
		v.scriptName = val
	case "PATH_INFO":
		v.pathInfo = val
	case "QUERY_STRING":
		v.query = val
	case "SERVER_NAME":
		v.serverName = val
	case "SERVER_PORT":
		v.serverPort = val
	case "REMOTE_ADDR":
		v.remoteAddr = val
	case "REMOTE_PORT":
		v.remotePort = val
	}
}

// source is the environ read, for the variables cgiVars does not hold.
func (v *cgiVars) source() Source {
	if v.env != nil {
		return v.env
	}
	p := v.pairs
	return &p
}
