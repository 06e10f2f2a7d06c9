package environ

import "strings"

// RepeatedVarError reports a variable that arrived more than once although it
// may not repeat: a CGI meta-variable such as REQUEST_METHOD, CONTENT_LENGTH
// or SCRIPT_NAME, or HTTP_HOST (net/http.Server refuses a request with two
// Host fields). A front end answers the request with 400 Bad Request; the
// connection it came on is not at fault.
type RepeatedVarError struct {
	Name string // the repeated variable
}

func (e *RepeatedVarError) Error() string { return "environ: repeated " + e.Name }

// Add adds the variable name with value to env, as a front end that receives
// variables as a list of pairs (FastCGI, SCGI) does for each pair.
//
// A name not yet in env is set. An HTTP_* name already there is one request
// field the client sent more than once, which nginx before 1.23 passes as one
// pair per line: the values are joined as nginx 1.23 and later join them,
// with "; " for HTTP_COOKIE and ", " for every other field. Nothing is lost.
//
// Any other repeated name (a CGI meta-variable, or HTTP_HOST) leaves env
// unchanged, the first value kept, and gives a *RepeatedVarError.
func (env Environ) Add(name, value string) error {
	old, ok := env[name]
	if !ok {
		env[name] = value
		return nil
	}
	if !Joined(name) {
		return &RepeatedVarError{Name: name}
	}
	sep := ", "
	if name == "HTTP_COOKIE" {
		sep = "; "
	}
	env[name] = old + sep + value
	return nil
}

// Joined reports whether repeated pairs named name make one variable with
// their values joined (Add): an HTTP_* name, one request field, other than
// HTTP_HOST. Any other repeated name is a meta-variable set again.
func Joined(name string) bool {
	return strings.HasPrefix(name, "HTTP_") && name != "HTTP_HOST"
}
