// Package headers provides an ordered, case-insensitive list of HTTP header
// fields, the Go counterpart of Python's wsgiref.headers, together with the
// field validation and hop-by-hop classification used by the gateway core.
package headers

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Field is one header field: a name and its value.
type Field struct{ Name, Value string }

// Param is one MIME parameter for [Headers.AddHeader].
type Param struct {
	Name, Value string
	Bare        bool // name alone, no "=value" (Python's None)
}

// Headers is an ordered list of header fields. Names compare without regard
// to letter case; insertion order and repeated names are kept.
type Headers struct {
	fields []Field
}

// New returns Headers holding fields in the order given. It panics with
// CheckField's error on a bad field.
func New(fields ...Field) *Headers {
	for _, f := range fields {
		mustCheck(f.Name, f.Value)
	}
	return &Headers{fields: append([]Field(nil), fields...)}
}

// FromHTTP returns Headers holding h's fields, names sorted, each name's
// values in order. It panics with CheckField's error on a bad field.
func FromHTTP(h http.Header) *Headers {
	names := make([]string, 0, len(h))
	n := 0
	for k, vs := range h {
		names = append(names, k)
		n += len(vs)
	}
	sort.Strings(names)
	fields := make([]Field, 0, n)
	for _, k := range names {
		for _, v := range h[k] {
			mustCheck(k, v)
			fields = append(fields, Field{k, v})
		}
	}
	return &Headers{fields: fields}
}

func mustCheck(name, value string) {
	if err := CheckField(name, value); err != nil {
		panic(err)
	}
}

// Get returns the first value of name, or "" when there is none.
func (h *Headers) Get(name string) string {
	v, _ := h.Lookup(name)
	return v
}

// Lookup returns the first value of name and whether there is one.
func (h *Headers) Lookup(name string) (string, bool) {
	for _, f := range h.fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

// GetAll returns every value of name, in order; empty when there is none.
func (h *Headers) GetAll(name string) []string {
	vs := []string{}
	for _, f := range h.fields {
		if strings.EqualFold(f.Name, name) {
			vs = append(vs, f.Value)
		}
	}
	return vs
}

// Set drops every value of name and appends one field name: value at the end.
// It panics with CheckField's error on a bad field.
func (h *Headers) Set(name, value string) {
	mustCheck(name, value)
	h.del(name)
	h.fields = append(h.fields, Field{name, value})
}

// SetDefault returns the first value of name; when there is none it appends
// name: value and returns value. It panics with CheckField's error on a bad
// field.
func (h *Headers) SetDefault(name, value string) string {
	mustCheck(name, value)
	if v, ok := h.Lookup(name); ok {
		return v
	}
	h.fields = append(h.fields, Field{name, value})
	return value
}

// Add appends name: value, keeping existing values. It panics with
// CheckField's error on a bad field.
func (h *Headers) Add(name, value string) {
	mustCheck(name, value)
	h.fields = append(h.fields, Field{name, value})
}

// AddHeader appends a field with MIME parameters, as wsgiref's add_header.
// An empty value means no value part. A Param with an empty Value, or Bare,
// is written as its name alone; other values are quoted with `\` and `"`
// escaped. Parts are joined with "; ". It panics with CheckField's error when
// the name, the value or a parameter is bad, and then stores nothing.
func (h *Headers) AddHeader(name, value string, params ...Param) {
	var b strings.Builder
	if value != "" {
		mustCheck(name, value)
		b.WriteString(value)
	}
	for _, p := range params {
		if err := checkName(p.Name); err != nil {
			panic(fmt.Errorf("%w (parameter of %q)", err, name))
		}
		if err := checkValue(p.Name, p.Value); err != nil {
			panic(fmt.Errorf("%w (parameter of %q)", err, name))
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Name)
		if p.Bare || p.Value == "" {
			continue
		}
		b.WriteString(`="`)
		for i := 0; i < len(p.Value); i++ {
			c := p.Value[i]
			if c == '\\' || c == '"' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
		b.WriteByte('"')
	}
	v := b.String()
	mustCheck(name, v)
	h.fields = append(h.fields, Field{name, v})
}

// Del removes every field called name; an absent name is a no-op.
func (h *Headers) Del(name string) { h.del(name) }

func (h *Headers) del(name string) {
	kept := h.fields[:0]
	for _, f := range h.fields {
		if !strings.EqualFold(f.Name, name) {
			kept = append(kept, f)
		}
	}
	clear(h.fields[len(kept):])
	h.fields = kept
}

// Has reports whether a field called name is present.
func (h *Headers) Has(name string) bool {
	_, ok := h.Lookup(name)
	return ok
}

// Keys returns the name of every field, in order, repeats kept.
func (h *Headers) Keys() []string {
	ks := make([]string, len(h.fields))
	for i, f := range h.fields {
		ks[i] = f.Name
	}
	return ks
}

// Values returns the value of every field, in order.
func (h *Headers) Values() []string {
	vs := make([]string, len(h.fields))
	for i, f := range h.fields {
		vs[i] = f.Value
	}
	return vs
}

// Items returns a copy of the fields, in order.
func (h *Headers) Items() []Field {
	return append(make([]Field, 0, len(h.fields)), h.fields...)
}

// Len returns the number of fields.
func (h *Headers) Len() int { return len(h.fields) }

// Bytes returns the fields as "Name: value\r\n" each, followed by "\r\n".
func (h *Headers) Bytes() []byte {
	n := 2
	for _, f := range h.fields {
		n += len(f.Name) + len(f.Value) + 4
	}
	b := make([]byte, 0, n)
	for _, f := range h.fields {
		b = append(b, f.Name...)
		b = append(b, ": "...)
		b = append(b, f.Value...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// String returns the fields as Bytes does.
func (h *Headers) String() string { return string(h.Bytes()) }
