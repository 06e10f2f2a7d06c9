package headers

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// mustPanic runs f and returns the error it panicked with.
func mustPanic(t *testing.T, what string, f func()) (err error) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Fatalf("%s: no panic", what)
		}
		e, ok := r.(error)
		if !ok {
			t.Fatalf("panic value %v is not an error", r)
		}
		err = e
	}()
	f()
	return nil
}

// TestMappingInterface follows CPython's HeaderTests.testMappingInterface.
func TestMappingInterface(t *testing.T) {
	test := Field{"x", "y"}
	if n := New().Len(); n != 0 {
		t.Fatalf("New().Len() = %d", n)
	}
	h := New(test)
	if h.Len() != 1 {
		t.Fatalf("Len = %d, want 1", h.Len())
	}
	h = New(test, test)
	if h.Len() != 2 {
		t.Fatalf("Len = %d, want 2", h.Len())
	}
	h = New(test)
	h.Set("x", "y")
	if h.Len() != 1 {
		t.Fatalf("Len after Set = %d, want 1", h.Len())
	}
	h = New(test)
	h.Add("x", "y")
	if got := h.Keys(); !reflect.DeepEqual(got, []string{"x", "x"}) {
		t.Fatalf("Keys = %q", got)
	}
	if got := h.Values(); !reflect.DeepEqual(got, []string{"y", "y"}) {
		t.Fatalf("Values = %q", got)
	}
	if got := h.Items(); !reflect.DeepEqual(got, []Field{test, test}) {
		t.Fatalf("Items = %v", got)
	}
	h.Del("x")
	if h.Len() != 0 || h.Has("x") {
		t.Fatalf("after Del: %v", h.Items())
	}
	h.Del("x") // absent: no-op
	if h.Len() != 0 {
		t.Fatal("Del of absent name changed the list")
	}
}

func TestLookups(t *testing.T) {
	h := New(Field{"Foo", "bar"}, Field{"Spam", "1"}, Field{"foo", "baz"})
	tests := []struct {
		name    string
		get     string
		ok      bool
		all     []string
		hasName bool
	}{
		{"Foo", "bar", true, []string{"bar", "baz"}, true},
		{"FOO", "bar", true, []string{"bar", "baz"}, true},
		{"foo", "bar", true, []string{"bar", "baz"}, true},
		{"spam", "1", true, []string{"1"}, true},
		{"zoo", "", false, []string{}, false},
		{"", "", false, []string{}, false},
		{"fo\no", "", false, []string{}, false},
		{"foo\x00", "", false, []string{}, false},
	}
	for _, tt := range tests {
		if got := h.Get(tt.name); got != tt.get {
			t.Errorf("Get(%q) = %q, want %q", tt.name, got, tt.get)
		}
		if got, ok := h.Lookup(tt.name); got != tt.get || ok != tt.ok {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.get, tt.ok)
		}
		if got := h.GetAll(tt.name); got == nil || !reflect.DeepEqual(got, tt.all) {
			t.Errorf("GetAll(%q) = %#v, want %#v", tt.name, got, tt.all)
		}
		if got := h.Has(tt.name); got != tt.hasName {
			t.Errorf("Has(%q) = %v", tt.name, got)
		}
	}
}

func TestMutators(t *testing.T) {
	tests := []struct {
		name string
		do   func(h *Headers)
		want []Field
	}{
		{"set replaces all and appends", func(h *Headers) { h.Set("FOO", "new") },
			[]Field{{"Spam", "1"}, {"FOO", "new"}}},
		{"set new name", func(h *Headers) { h.Set("X", "y") },
			[]Field{{"Foo", "bar"}, {"Spam", "1"}, {"foo", "baz"}, {"X", "y"}}},
		{"add keeps", func(h *Headers) { h.Add("spam", "2") },
			[]Field{{"Foo", "bar"}, {"Spam", "1"}, {"foo", "baz"}, {"spam", "2"}}},
		{"del any case", func(h *Headers) { h.Del("fOo") },
			[]Field{{"Spam", "1"}}},
		{"del absent", func(h *Headers) { h.Del("nope") },
			[]Field{{"Foo", "bar"}, {"Spam", "1"}, {"foo", "baz"}}},
		{"setdefault present", func(h *Headers) {
			if v := h.SetDefault("foo", "other"); v != "bar" {
				panic("SetDefault returned " + v)
			}
		}, []Field{{"Foo", "bar"}, {"Spam", "1"}, {"foo", "baz"}}},
		{"setdefault absent", func(h *Headers) {
			if v := h.SetDefault("New", "v"); v != "v" {
				panic("SetDefault returned " + v)
			}
		}, []Field{{"Foo", "bar"}, {"Spam", "1"}, {"foo", "baz"}, {"New", "v"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(Field{"Foo", "bar"}, Field{"Spam", "1"}, Field{"foo", "baz"})
			tt.do(h)
			if got := h.Items(); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Items = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestItemsIsACopy(t *testing.T) {
	h := New(Field{"A", "1"})
	it := h.Items()
	it[0].Value = "changed"
	if h.Get("A") != "1" {
		t.Fatal("Items shares storage with Headers")
	}
	in := []Field{{"B", "2"}}
	h = New(in...)
	in[0].Value = "changed"
	if h.Get("B") != "2" {
		t.Fatal("New shares storage with its argument")
	}
}

// TestExtras follows CPython's HeaderTests.testExtras and the add_header
// examples of the reference.
func TestExtras(t *testing.T) {
	tests := []struct {
		name   string
		value  string
		params []Param
		want   string
	}{
		{"foo", "bar", []Param{{Name: "baz", Bare: true}}, "bar; baz"},
		{"content-disposition", "attachment", []Param{{Name: "filename", Value: "bud.gif"}}, `attachment; filename="bud.gif"`},
		{"Foo", "bar", []Param{{Name: "cheese", Bare: true}}, "bar; cheese"},
		{"Foo", "bar", []Param{{Name: "cheese", Value: "wensleydale"}}, `bar; cheese="wensleydale"`},
		{"X", "", []Param{{Name: "a", Bare: true}, {Name: "b-c", Value: "d e"}, {Name: "q", Value: `has"quote\back`}, {Name: "empty"}, {Name: "tok", Value: "plain"}},
			`a; b-c="d e"; q="has\"quote\\back"; empty; tok="plain"`},
		{"Z", "", nil, ""},
		{"Y", "", []Param{{Name: "p", Value: "1"}}, `p="1"`},
		{"B", "v", []Param{{Name: "p", Value: "x", Bare: true}}, "v; p"},
		{"T", "a\tb", []Param{{Name: "p", Value: "tab\there"}}, "a\tb; p=\"tab\there\""},
	}
	for _, tt := range tests {
		h := New()
		h.AddHeader(tt.name, tt.value, tt.params...)
		if got, ok := h.Lookup(tt.name); !ok || got != tt.want {
			t.Errorf("AddHeader(%q, %q, %v) gave %q, %v; want %q", tt.name, tt.value, tt.params, got, ok, tt.want)
		}
		if h.Len() != 1 {
			t.Errorf("AddHeader stored %d fields", h.Len())
		}
	}

	h := New()
	if h.Get("foo") != "" || h.GetAll("foo") == nil || len(h.GetAll("foo")) != 0 {
		t.Fatal("empty Headers found foo")
	}
	if v := h.SetDefault("foo", "bar"); v != "bar" || h.Get("foo") != "bar" {
		t.Fatalf("SetDefault = %q", v)
	}
	if v := h.SetDefault("foo", "baz"); v != "bar" {
		t.Fatalf("second SetDefault = %q", v)
	}
	if !h.Has("foo") || !h.Has("Foo") {
		t.Fatal("Has")
	}
	h.AddHeader("content-disposition", "attachment", Param{Name: "filename", Value: "bud.gif"})
	want := "foo: bar\r\ncontent-disposition: attachment; filename=\"bud.gif\"\r\n\r\n"
	if h.String() != want {
		t.Fatalf("String = %q, want %q", h.String(), want)
	}
}

// TestBytes follows CPython's HeaderTests.testBytes (str and bytes agree in
// Go: the result is bytes).
func TestBytes(t *testing.T) {
	tests := []struct {
		fields []Field
		want   string
	}{
		{nil, "\r\n"},
		{[]Field{{"Foo", "bar"}}, "Foo: bar\r\n\r\n"},
		{[]Field{{"Content-Type", "text/plain; charset=utf-8"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}},
			"Content-Type: text/plain; charset=utf-8\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n"},
		{[]Field{{"X", ""}}, "X: \r\n\r\n"},
		{[]Field{{"X", "caf\xc3\xa9"}, {"Y", "\xff"}}, "X: caf\xc3\xa9\r\nY: \xff\r\n\r\n"},
	}
	for _, tt := range tests {
		h := New(tt.fields...)
		if got := string(h.Bytes()); got != tt.want {
			t.Errorf("Bytes = %q, want %q", got, tt.want)
		}
		if got := h.String(); got != tt.want {
			t.Errorf("String = %q, want %q", got, tt.want)
		}
	}
}

func TestFromHTTP(t *testing.T) {
	h := FromHTTP(http.Header{
		"Zeta":         {"1"},
		"Content-Type": {"text/plain"},
		"Set-Cookie":   {"b=2", "a=1"},
		"X-Custom":     {"x"},
		"Variable-foo": {"v"},
	})
	want := []Field{
		{"Content-Type", "text/plain"},
		{"Set-Cookie", "b=2"},
		{"Set-Cookie", "a=1"},
		{"Variable-foo", "v"},
		{"X-Custom", "x"},
		{"Zeta", "1"},
	}
	if got := h.Items(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Items = %v, want %v", got, want)
	}
	if FromHTTP(nil).Len() != 0 {
		t.Fatal("FromHTTP(nil) not empty")
	}
}

// TestControlCharacters follows CPython's control-character tests
// (CVE-2026-0865): every mutator refuses them and stores nothing.
func TestControlCharacters(t *testing.T) {
	bad := []Field{
		{"Foo\r\nSet-Cookie", "x"},
		{"Foo", "bar\r\nSet-Cookie: x"},
		{"Foo", "bar\n"},
		{"Foo", "bar\r"},
		{"Foo", "a\x00b"},
		{"Foo", "a\x1fb"},
		{"Foo", "a\x7fb"},
		{"Foo", "\x0b"},
		{"Fo\x00o", "v"},
		{"Fo\to", "v"},
		{"Fo o", "v"},
		{"Foo:", "v"},
		{"", "v"},
		{"Fo\x7fo", "v"},
		{"F\xc3\xa9", "v"},
		{"(x)", "v"},
	}
	ops := map[string]func(h *Headers, f Field){
		"New":        func(h *Headers, f Field) { *h = *New(Field{"A", "1"}, f) },
		"FromHTTP":   func(h *Headers, f Field) { *h = *FromHTTP(http.Header{"A": {"1"}, f.Name: {f.Value}}) },
		"Set":        func(h *Headers, f Field) { h.Set(f.Name, f.Value) },
		"SetDefault": func(h *Headers, f Field) { h.SetDefault(f.Name, f.Value) },
		"Add":        func(h *Headers, f Field) { h.Add(f.Name, f.Value) },
		"AddHeader":  func(h *Headers, f Field) { h.AddHeader(f.Name, f.Value) },
		"AddHeader param": func(h *Headers, f Field) {
			h.AddHeader("A", "v", Param{Name: f.Name, Value: f.Value})
		},
		"AddHeader param value": func(h *Headers, f Field) {
			if f.Name == "Foo" {
				h.AddHeader("A", "v", Param{Name: "p", Value: f.Value})
			} else {
				h.AddHeader("A", "v", Param{Name: f.Name, Bare: true})
			}
		},
	}
	for opName, op := range ops {
		for _, f := range bad {
			h := New(Field{"A", "1"})
			err := mustPanic(t, fmt.Sprintf("%s(%q, %q)", opName, f.Name, f.Value), func() { op(h, f) })
			if CheckField(f.Name, f.Value) == nil {
				t.Fatalf("CheckField(%q, %q) accepted a bad field", f.Name, f.Value)
			}
			if !strings.HasPrefix(err.Error(), "headers: ") {
				t.Errorf("%s(%q, %q): error %q lacks context", opName, f.Name, f.Value, err)
			}
			if got := h.Items(); !reflect.DeepEqual(got, []Field{{"A", "1"}}) {
				t.Errorf("%s(%q, %q) stored %v", opName, f.Name, f.Value, got)
			}
		}
	}
}

func TestCheckField(t *testing.T) {
	tests := []struct {
		name, value string
		errWant     string // "" for no error
	}{
		{"Content-Type", "text/html", ""},
		{"X", "", ""},
		{"!#$%&'*+-.^_`|~09azAZ", "v", ""},
		{"X", "tab\there", ""},
		{"X", "caf\xc3\xa9 \x80\xff", ""},
		{"X", `quoted "x" (c) ;,=`, ""},
		{"", "v", "empty field name"},
		{"Bad Name", "v", `field name "Bad Name": invalid byte 0x20 at 3`},
		{"Bad:", "v", `field name "Bad:": invalid byte 0x3a at 3`},
		{"N\x00", "v", `invalid byte 0x00 at 1`},
		{"N", "a\nb", `field "N": control byte 0x0a in value at 1`},
		{"N", "\r", `control byte 0x0d in value at 0`},
		{"N", "x\x7f", `control byte 0x7f in value at 1`},
		{"N", "x\x00", `control byte 0x00 in value at 1`},
	}
	for _, tt := range tests {
		err := CheckField(tt.name, tt.value)
		switch {
		case tt.errWant == "" && err != nil:
			t.Errorf("CheckField(%q, %q) = %v", tt.name, tt.value, err)
		case tt.errWant != "" && (err == nil || !strings.Contains(err.Error(), tt.errWant)):
			t.Errorf("CheckField(%q, %q) = %v, want error containing %q", tt.name, tt.value, err, tt.errWant)
		}
	}
}

func TestPanicValueIsCheckFieldError(t *testing.T) {
	err := mustPanic(t, "Set", func() { New().Set("a b", "v") })
	want := CheckField("a b", "v")
	if err.Error() != want.Error() {
		t.Fatalf("panic %q, want %q", err, want)
	}
	var target interface{ Error() string }
	if !errors.As(err, &target) {
		t.Fatal("panic value is not an error")
	}
}

func TestIsHopByHop(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"Connection", true}, {"connection", true}, {"CONNECTION", true},
		{"Keep-Alive", true}, {"keep-alive", true},
		{"Proxy-Authenticate", true}, {"Proxy-Authorization", true},
		{"TE", true}, {"te", true}, {"Te", true},
		{"Trailers", true}, {"trailers", true},
		{"Transfer-Encoding", true}, {"Upgrade", true}, {"uPgRaDe", true},
		{"Trailer", false}, {"Content-Type", false}, {"Content-Length", false},
		{"", false}, {"Connection ", false}, {"Keep_Alive", false},
		{"Upgrade-Insecure-Requests", false}, {"Proxy-Connection", false},
		{"Conne\xc3\xa7tion", false}, {"TE\x00", false},
	}
	for _, tt := range tests {
		if got := IsHopByHop(tt.name); got != tt.want {
			t.Errorf("IsHopByHop(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestNoAllocations(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() {
		_ = IsHopByHop("Transfer-Encoding")
		_ = IsHopByHop("X-Not-Hop")
	}); n != 0 {
		t.Errorf("IsHopByHop allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		_ = CheckField("Content-Type", "text/plain; charset=utf-8")
	}); n != 0 {
		t.Errorf("CheckField allocates %v times", n)
	}
}

func FuzzCheckField(f *testing.F) {
	f.Add("Content-Type", "text/plain")
	f.Add("X", "a\r\nb")
	f.Add("X\n", "v")
	f.Add("", "")
	f.Add("X", "tab\t\x7f")
	f.Fuzz(func(t *testing.T, name, value string) {
		if CheckField(name, value) != nil {
			func() {
				defer func() {
					if recover() == nil {
						t.Fatalf("Add(%q, %q) accepted a field CheckField refuses", name, value)
					}
				}()
				New().Add(name, value)
			}()
			return
		}
		h := New(Field{name, value}, Field{name, value})
		b := h.Bytes()
		if n := strings.Count(string(b), "\r\n"); n != 3 {
			t.Fatalf("Bytes %q has %d CRLF, want 3", b, n)
		}
		if n := strings.Count(string(b), "\n"); n != 3 {
			t.Fatalf("Bytes %q has %d LF, want 3", b, n)
		}
		if n := strings.Count(string(b), "\r"); n != 3 {
			t.Fatalf("Bytes %q has %d CR, want 3", b, n)
		}
		want := name + ": " + value + "\r\n"
		if string(b) != want+want+"\r\n" {
			t.Fatalf("Bytes = %q", b)
		}
	})
}

func BenchmarkCheckField(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = CheckField("Content-Type", "text/html; charset=utf-8")
	}
}

func BenchmarkIsHopByHop(b *testing.B) {
	b.Run("cgiref", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = IsHopByHop("Content-Type")
		}
	})
	b.Run("stdlib-ToLower", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			switch strings.ToLower("Content-Type") {
			case "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
				"te", "trailers", "transfer-encoding", "upgrade":
			}
		}
	})
}
