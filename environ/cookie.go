package environ

import "strings"

// rejoinCookie turns the ", " with which a web server joined several Cookie
// lines (Apache, Caddy) into the "; " that separates cookies, so that
// r.Cookie finds every one. A ", " is a separator only where a cookie-pair
// starts after it (a token and "="), outside a quoted value: "a=1, b=2"
// becomes "a=1; b=2", while "d=Wed, 09 Jun 2021", "l=x, y" and
// `q="1, b=2"` stay as they are.
func rejoinCookie(v string) string {
	if !strings.Contains(v, ", ") {
		return v
	}
	var b []byte // a copy of v, made at the first change
	quoted := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"':
			// A quoted value opens right after "=" and ends at the next quote.
			if quoted {
				quoted = false
			} else if i > 0 && v[i-1] == '=' {
				quoted = true
			}
		case quoted:
		case c == ',' && strings.HasPrefix(v[i+1:], " ") && startsPair(v[i+2:]):
			if b == nil {
				b = []byte(v)
			}
			b[i] = ';'
		}
	}
	if b == nil {
		return v
	}
	return string(b)
}

// startsPair reports whether s starts with a cookie-pair: a token, then "=".
func startsPair(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '=' {
			return i > 0
		}
		if !isTokenByte(s[i]) {
			return false
		}
	}
	return false
}

// isTokenByte reports whether c may appear in an RFC 9110 token.
func isTokenByte(c byte) bool {
	return unreserved(c) || strings.IndexByte("!#$%&'*+^`|", c) >= 0
}
