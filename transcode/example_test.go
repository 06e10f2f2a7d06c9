package transcode_test

import (
	"fmt"

	"github.com/cgiref/cgiref/transcode"
	"golang.org/x/text/encoding/charmap"
)

func ExampleTranscode() {
	// Apache on Windows passes the request's bytes decoded as latin-1.
	env := transcode.Transcode([]string{
		"SERVER_SOFTWARE=Apache/2.4.58 (Win64)",
		"PATH_INFO=/cafÃ©",
		"SERVER_NAME=example.org",
		"NOT_A_VARIABLE",
	}, transcode.Options{Windows: true})
	fmt.Printf("%q %q %d\n", env["PATH_INFO"], env["SERVER_NAME"], len(env))
	// Output: "/café" "example.org" 3
}

func ExampleTranscode_codePage() {
	env := transcode.Transcode([]string{
		"SERVER_SOFTWARE=SomeServer/1.0",
		"QUERY_STRING=q=café€日",
	}, transcode.Options{Windows: true, CodePage: charmap.Windows1252})
	fmt.Printf("%q\n", env["QUERY_STRING"])
	// Output: "q=caf\xe9\x80?"
}

func ExampleNeedsTranscode() {
	fmt.Println(transcode.NeedsTranscode("HTTP_COOKIE"), transcode.NeedsTranscode("REDIRECT_PATH_INFO"), transcode.NeedsTranscode("REMOTE_ADDR"))
	// Output: true true false
}

func ExampleToLatin1Text() {
	s := transcode.ToLatin1Text("caf\xc3\xa9")
	b, err := transcode.FromLatin1Text(s)
	fmt.Printf("%s %q %v\n", s, b, err)
	// Output: cafÃ© "café" <nil>
}

func ExampleCodePage() {
	enc, ok := transcode.CodePage(932)
	b, _ := enc.NewEncoder().String("日本")
	fmt.Printf("%v %q\n", ok, b)
	// Output: true "\x93\xfa\x96{"
}
