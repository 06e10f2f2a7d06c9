package headers

import "fmt"

// hopByHop lists the hop-by-hop field names in lower case.
var hopByHop = [...]string{
	"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
	"te", "trailers", "transfer-encoding", "upgrade",
}

// IsHopByHop reports whether name is a hop-by-hop field (Connection,
// Keep-Alive, Proxy-Authenticate, Proxy-Authorization, TE, Trailers,
// Transfer-Encoding or Upgrade), in any letter case. It does not allocate.
func IsHopByHop(name string) bool {
	for _, h := range hopByHop {
		if equalLower(name, h) {
			return true
		}
	}
	return false
}

// equalLower reports whether s equals the lower-case ASCII string lower,
// ignoring the letter case of s.
func equalLower(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// isTchar reports whether c is an RFC 9110 tchar.
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// CheckField reports whether name: value may be written as a header field.
// The name must be a non-empty RFC 9110 token; the value may hold no control
// character (0x00-0x1F, 0x7F) except TAB. It does not allocate when the
// field is good.
func CheckField(name, value string) error {
	if err := checkName(name); err != nil {
		return err
	}
	return checkValue(name, value)
}

func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("headers: empty field name")
	}
	for i := 0; i < len(name); i++ {
		if !isTchar(name[i]) {
			return fmt.Errorf("headers: field name %q: invalid byte %#02x at %d", name, name[i], i)
		}
	}
	return nil
}

func checkValue(name, value string) error {
	for i := 0; i < len(value); i++ {
		c := value[i]
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return fmt.Errorf("headers: field %q: control byte %#02x in value at %d", name, c, i)
		}
	}
	return nil
}
