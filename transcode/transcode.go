// Package transcode turns an operating-system environment into a
// byte-faithful CGI environ, the Go counterpart of wsgiref's read_environ:
// on Windows, variables a web server passed as text are turned back into the
// bytes the client sent, following each server's known habits.
//
// The rules on Windows, by SERVER_SOFTWARE, are CPython's read_environ's:
//
//   - Microsoft-IIS/...: the values are UTF-8 (IIS decodes the URL as UTF-8).
//   - Apache/...: each character U+0000..U+00FF is one byte (latin-1), as
//     wsgiref documents it for Apache on Windows. This rule is wsgiref's and
//     has not been checked against a real Apache for Windows.
//   - SimpleHTTP/... Python/3...: UTF-8.
//   - any other server, and no SERVER_SOFTWARE: UTF-8, as CPython does (its
//     fallback is the filesystem encoding, UTF-8 on Windows since Python 3.6)
//     and as Go's own CGI host (net/http/cgi) writes them; or the code page
//     in Options.CodePage. ReadEnviron takes that code page from the
//     environment variable CGIREF_CODEPAGE, so a deployment selects it
//     without recompiling (see CodePageVar).
//
// What a code page cannot encode becomes '?'. On other systems values are
// kept byte for byte.
package transcode

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cgiref/cgiref/environ"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
)

// Options says where environment values came from.
type Options struct {
	Windows  bool              // values came from a Unicode (Windows) OS environment
	CodePage encoding.Encoding // code page for servers of unknown habits (the ANSI one, say); nil: UTF-8
}

// CodePageVar is the environment variable from which ReadEnviron, on
// Windows, takes the code page of servers of unknown habits: "ansi" (the
// system's ANSI code page, GetACP), "utf-8" (the default), or a code page
// number that CodePage knows, such as 1252 or 932 (a "cp" prefix is
// allowed). An empty or unknown value means UTF-8.
const CodePageVar = "CGIREF_CODEPAGE"

// codePageSetting returns the code page a CodePageVar value selects, given
// the ANSI code page number acp; nil means UTF-8. ok is false for a value it
// does not understand.
func codePageSetting(v string, acp int) (cp encoding.Encoding, ok bool) {
	v = strings.ToLower(strings.TrimSpace(v))
	switch v {
	case "", "utf-8", "utf8", "65001", "cp65001":
		return nil, true
	case "ansi", "acp":
		if acp == 65001 {
			return nil, true
		}
		return CodePage(acp)
	}
	n, err := strconv.Atoi(strings.TrimPrefix(v, "cp"))
	if err != nil {
		return nil, false
	}
	return CodePage(n)
}

// Transcode builds an environ from "KEY=value" entries as os.Environ gives
// them. Entries without "=" are skipped; an entry is split at its first "="
// after the first byte, so Windows' "=C:=C:\\" gives the key "=C:". With
// opts.Windows, the values of the variables NeedsTranscode names are
// turned into bytes by the rule for the server named in SERVER_SOFTWARE;
// otherwise every value is kept byte for byte.
func Transcode(vars []string, opts Options) environ.Environ {
	env := make(environ.Environ, len(vars))
	for _, kv := range vars {
		if kv == "" {
			continue
		}
		i := strings.IndexByte(kv[1:], '=')
		if i < 0 {
			continue
		}
		env[kv[:i+1]] = kv[i+2:]
	}
	if !opts.Windows {
		return env
	}
	conv := converter(strings.ToLower(env["SERVER_SOFTWARE"]), opts.CodePage)
	if conv == nil {
		return env
	}
	for k, v := range env {
		if NeedsTranscode(k) {
			env[k] = conv(v)
		}
	}
	return env
}

// converter returns the value conversion for a server (lower-cased
// SERVER_SOFTWARE), or nil when values are kept as they are.
func converter(software string, cp encoding.Encoding) func(string) string {
	switch {
	case strings.HasPrefix(software, "microsoft-iis/"):
		return nil
	case strings.HasPrefix(software, "simplehttp/") && strings.Contains(software, "python/3"):
		return nil
	case strings.HasPrefix(software, "apache/"):
		return latin1OrQuestion
	}
	if cp == nil {
		return nil // UTF-8, as the OS environment holds it
	}
	return func(v string) string {
		s, err := cp.NewEncoder().String(v)
		if err != nil {
			return replaceEach(cp, v)
		}
		return s
	}
}

// replaceEach encodes v rune by rune, writing '?' for what cp cannot encode.
func replaceEach(cp encoding.Encoding, v string) string {
	var b strings.Builder
	for _, r := range v {
		s, err := cp.NewEncoder().String(string(r))
		if err != nil {
			b.WriteByte('?')
			continue
		}
		b.WriteString(s)
	}
	return b.String()
}

// latin1OrQuestion turns each rune U+0000..U+00FF into its byte and any
// other rune into '?'.
func latin1OrQuestion(v string) string {
	b := make([]byte, 0, len(v))
	for _, r := range v {
		if r > 0xff {
			r = '?'
		}
		b = append(b, byte(r))
	}
	return string(b)
}

// transcoded lists the variables, besides HTTP_* and SSL_*, whose values a
// Windows server may have decoded.
var transcoded = map[string]bool{
	"SCRIPT_NAME": true, "PATH_INFO": true, "QUERY_STRING": true,
	"REQUEST_METHOD": true, "AUTH_TYPE": true, "CONTENT_TYPE": true,
	"CONTENT_LENGTH": true, "HTTPS": true, "REMOTE_USER": true,
	"REMOTE_IDENT": true,
}

// NeedsTranscode reports whether key names a variable that carries request
// bytes: SCRIPT_NAME, PATH_INFO, QUERY_STRING, REQUEST_METHOD, AUTH_TYPE,
// CONTENT_TYPE, CONTENT_LENGTH, HTTPS, REMOTE_USER, REMOTE_IDENT, every
// HTTP_* and SSL_*, and REDIRECT_ followed by any of these. Letter case
// matters.
func NeedsTranscode(key string) bool {
	for {
		if transcoded[key] || strings.HasPrefix(key, "HTTP_") || strings.HasPrefix(key, "SSL_") {
			return true
		}
		rest, ok := strings.CutPrefix(key, "REDIRECT_")
		if !ok {
			return false
		}
		key = rest
	}
}

// ToLatin1Text turns each byte of b into the rune of the same number
// (U+0000..U+00FF): PEP 3333's "bytes in unicode".
func ToLatin1Text(b string) string {
	r := make([]rune, len(b))
	for i := 0; i < len(b); i++ {
		r[i] = rune(b[i])
	}
	return string(r)
}

// FromLatin1Text is the inverse of ToLatin1Text. It fails on invalid UTF-8
// and on a rune above U+00FF.
func FromLatin1Text(s string) (string, error) {
	b := make([]byte, 0, len(s))
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return "", fmt.Errorf("transcode: invalid UTF-8 at byte %d", i)
			}
		}
		if r > 0xff {
			return "", fmt.Errorf("transcode: rune %U at byte %d is above U+00FF", r, i)
		}
		b = append(b, byte(r))
	}
	return string(b), nil
}

// CodePage returns the encoding of a Windows code page number: 874, 932,
// 936, 949, 950, 1250-1258 and 65001 are known.
func CodePage(id int) (encoding.Encoding, bool) {
	switch id {
	case 874:
		return charmap.Windows874, true
	case 932:
		return japanese.ShiftJIS, true
	case 936:
		return simplifiedchinese.GBK, true
	case 949:
		return korean.EUCKR, true
	case 950:
		return traditionalchinese.Big5, true
	case 1250:
		return charmap.Windows1250, true
	case 1251:
		return charmap.Windows1251, true
	case 1252:
		return charmap.Windows1252, true
	case 1253:
		return charmap.Windows1253, true
	case 1254:
		return charmap.Windows1254, true
	case 1255:
		return charmap.Windows1255, true
	case 1256:
		return charmap.Windows1256, true
	case 1257:
		return charmap.Windows1257, true
	case 1258:
		return charmap.Windows1258, true
	case 65001:
		return unicode.UTF8, true
	}
	return nil, false
}
