package environ

import "strings"

// GuessScheme returns "https" when HTTPS is "yes", "on" or "1" in any letter
// case, and "http" otherwise.
func GuessScheme(env Environ) string {
	if isOn(env["HTTPS"]) {
		return "https"
	}
	return "http"
}

func isOn(v string) bool {
	return strings.EqualFold(v, "on") || strings.EqualFold(v, "yes") || v == "1"
}

// ApplicationURI returns the URL of the application root: scheme, host and
// the quoted SCRIPT_NAME (or "/"), as wsgiref.util.application_uri.
func ApplicationURI(env Environ) string {
	scheme := GuessScheme(env)
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")
	if h := env["HTTP_HOST"]; h != "" {
		b.WriteString(h)
	} else {
		b.WriteString(env["SERVER_NAME"])
		port := env["SERVER_PORT"]
		if (scheme == "https" && port != "443") || (scheme != "https" && port != "80") {
			b.WriteString(":")
			b.WriteString(port)
		}
	}
	sn := env["SCRIPT_NAME"]
	if sn == "" {
		sn = "/"
	}
	quote(&b, sn, "/")
	return b.String()
}

// RequestURI returns the full URL of the request, as
// wsgiref.util.request_uri: the application URI, the quoted PATH_INFO and,
// when includeQuery is true, "?" and the verbatim QUERY_STRING.
func RequestURI(env Environ, includeQuery bool) string {
	var b strings.Builder
	b.WriteString(ApplicationURI(env))
	var p strings.Builder
	quote(&p, env["PATH_INFO"], "/;=,")
	path := p.String()
	if env["SCRIPT_NAME"] == "" {
		if path != "" {
			path = path[1:]
		}
	}
	b.WriteString(path)
	if q := env["QUERY_STRING"]; includeQuery && q != "" {
		b.WriteString("?")
		b.WriteString(q)
	}
	return b.String()
}

// quote writes s percent-encoded as urllib.parse.quote does with the latin-1
// encoding: every byte outside A-Z a-z 0-9 _ . - ~ and safe becomes %XX.
func quote(b *strings.Builder, s, safe string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || strings.IndexByte(safe, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '_' || c == '.' || c == '-' || c == '~'
}

// ShiftPathInfo moves the first segment of PATH_INFO to the end of
// SCRIPT_NAME and returns it, as wsgiref.util.shift_path_info, normalizing
// SCRIPT_NAME with POSIX normpath semantics. ok is false (Python's None) when
// PATH_INFO is empty or does not start with "/" (the environ is then left
// unchanged) and when the segment is "." (the environ is still updated).
func ShiftPathInfo(env Environ) (segment string, ok bool) {
	pi := env["PATH_INFO"]
	if pi == "" || pi[0] != '/' {
		return "", false
	}
	parts := strings.Split(pi, "/")
	kept := parts[:1]
	for _, p := range parts[1 : len(parts)-1] {
		if p != "" && p != "." {
			kept = append(kept, p)
		}
	}
	kept = append(kept, parts[len(parts)-1])
	name := kept[1]
	rest := append(kept[:1], kept[2:]...)
	sn := normpath(env["SCRIPT_NAME"] + "/" + name)
	sn = strings.TrimSuffix(sn, "/")
	if name == "" && !strings.HasSuffix(sn, "/") {
		sn += "/"
	}
	env["SCRIPT_NAME"] = sn
	env["PATH_INFO"] = strings.Join(rest, "/")
	if name == "." {
		return "", false
	}
	return name, true
}

// normpath is Python's posixpath.normpath.
func normpath(p string) string {
	if p == "" {
		return "."
	}
	initial := 0
	if strings.HasPrefix(p, "/") {
		initial = 1
		if strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "///") {
			initial = 2
		}
	}
	var comps []string
	for _, c := range strings.Split(p, "/") {
		switch {
		case c == "" || c == ".":
		case c != ".." || (initial == 0 && len(comps) == 0) || (len(comps) > 0 && comps[len(comps)-1] == ".."):
			comps = append(comps, c)
		case len(comps) > 0:
			comps = comps[:len(comps)-1]
		}
	}
	out := strings.Repeat("/", initial) + strings.Join(comps, "/")
	if out == "" {
		return "."
	}
	return out
}

// SetupTestingDefaults adds, where absent, the CGI variables of a minimal
// GET request for http://127.0.0.1/, as wsgiref.util.setup_testing_defaults
// (the wsgi.* keys have no counterpart). SCRIPT_NAME "" and PATH_INFO "/"
// are added only when neither is present; SERVER_PORT is "80" or "443"
// after GuessScheme.
func SetupTestingDefaults(env Environ) {
	setDefault(env, "SERVER_NAME", "127.0.0.1")
	setDefault(env, "SERVER_PROTOCOL", "HTTP/1.0")
	setDefault(env, "HTTP_HOST", env["SERVER_NAME"])
	setDefault(env, "REQUEST_METHOD", "GET")
	_, hasSN := env["SCRIPT_NAME"]
	_, hasPI := env["PATH_INFO"]
	if !hasSN && !hasPI {
		env["SCRIPT_NAME"] = ""
		env["PATH_INFO"] = "/"
	}
	if GuessScheme(env) == "https" {
		setDefault(env, "SERVER_PORT", "443")
	} else {
		setDefault(env, "SERVER_PORT", "80")
	}
}

func setDefault(env Environ, k, v string) {
	if _, ok := env[k]; !ok {
		env[k] = v
	}
}

// StripScriptPrefix removes the copy of SCRIPT_NAME that IIS (CGI and its
// FastCGI module) puts at the front of PATH_INFO, when it is there on a
// whole-segment boundary, exactly as wsgiref's IISCGIHandler does: PATH_INFO
// "/app/foo" with SCRIPT_NAME "/app" becomes "/foo", and PATH_INFO equal to
// SCRIPT_NAME becomes "". Letter case matters. A missing PATH_INFO is set to
// "" when the (empty) prefix matches. Package iis applies it to CGI; the
// FastCGI front end offers it as an option.
func StripScriptPrefix(env Environ) {
	path, script := env["PATH_INFO"], env["SCRIPT_NAME"]
	if strings.HasPrefix(path+"/", script+"/") {
		env["PATH_INFO"] = path[len(script):]
	}
}
