package headers_test

import (
	"fmt"
	"net/http"

	"github.com/cgiref/cgiref/headers"
)

func ExampleNew() {
	h := headers.New(
		headers.Field{Name: "Content-Type", Value: "text/plain"},
		headers.Field{Name: "Set-Cookie", Value: "a=1"},
	)
	h.Add("set-cookie", "b=2")
	fmt.Println(h.GetAll("SET-COOKIE"))
	fmt.Printf("%q\n", h.Bytes())
	// Output:
	// [a=1 b=2]
	// "Content-Type: text/plain\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n\r\n"
}

func ExampleHeaders_AddHeader() {
	h := headers.New()
	h.AddHeader("Content-Disposition", "attachment", headers.Param{Name: "filename", Value: "bud.gif"})
	h.AddHeader("X-Flags", "bar", headers.Param{Name: "cheese", Bare: true}, headers.Param{Name: "q", Value: `say "hi"`})
	fmt.Println(h.Get("content-disposition"))
	fmt.Println(h.Get("x-flags"))
	// Output:
	// attachment; filename="bud.gif"
	// bar; cheese; q="say \"hi\""
}

func ExampleHeaders_Set() {
	h := headers.New(headers.Field{Name: "A", Value: "1"}, headers.Field{Name: "B", Value: "2"}, headers.Field{Name: "a", Value: "3"})
	h.Set("A", "4")
	fmt.Println(h.Items())
	// Output: [{B 2} {A 4}]
}

func ExampleFromHTTP() {
	h := headers.FromHTTP(http.Header{"X-B": {"2", "1"}, "X-A": {"3"}})
	fmt.Printf("%q\n", h.String())
	// Output: "X-A: 3\r\nX-B: 2\r\nX-B: 1\r\n\r\n"
}

func ExampleCheckField() {
	fmt.Println(headers.CheckField("X-Ok", "fine\tvalue"))
	fmt.Println(headers.CheckField("X-Bad", "evil\r\nSet-Cookie: x=1"))
	// Output:
	// <nil>
	// headers: field "X-Bad": control byte 0x0d in value at 4
}

func ExampleIsHopByHop() {
	fmt.Println(headers.IsHopByHop("transfer-encoding"), headers.IsHopByHop("Trailer"))
	// Output: true false
}
