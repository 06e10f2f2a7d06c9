// Package docs holds cgiref's deployment guides (the Markdown files here)
// and, in conf/, the configuration files they show, which the integration
// tests render and run. The package has tests only: they check that every
// configuration block of a guide is its file, byte for byte.
package docs

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cgiref/cgiref/internal/wine"
)

// marker names the file the fenced block on the next line shows.
var marker = regexp.MustCompile(`^<!-- file: (\S+) -->$`)

// block is a fenced block of a guide marked with a file name.
type block struct {
	guide string
	line  int
	file  string // relative to docs/
	text  string
}

// markedBlocks returns the marked blocks of the guide at path.
func markedBlocks(t *testing.T, path string) []block {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []block
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		m := marker.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		if !sc.Scan() {
			t.Fatalf("%s:%d: marker at the end of the file", path, n)
		}
		n++
		fence := sc.Text()
		if !strings.HasPrefix(fence, "```") {
			t.Fatalf("%s:%d: a file marker must be followed by a fenced block", path, n)
		}
		fence = fence[:len(fence)-len(strings.TrimLeft(fence, "`"))]
		b := block{guide: path, line: n, file: m[1]}
		var text strings.Builder
		closed := false
		for sc.Scan() {
			n++
			if sc.Text() == fence {
				closed = true
				break
			}
			text.WriteString(sc.Text())
			text.WriteByte('\n')
		}
		if !closed {
			t.Fatalf("%s:%d: unclosed fenced block", path, b.line)
		}
		b.text = text.String()
		out = append(out, b)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGuideBlocksAreFiles checks that every marked block of every guide is
// the file it names, byte for byte, and that every deployment file in conf/
// (all but the test frames, *.tmpl) is shown in some guide.
func TestGuideBlocksAreFiles(t *testing.T) {
	guides, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	guides = append(guides, filepath.Join("..", "README.md"))
	shown := map[string]bool{}
	for _, g := range guides {
		for _, b := range markedBlocks(t, g) {
			name := filepath.Clean(b.file)
			want, err := os.ReadFile(name)
			if err != nil {
				t.Errorf("%s:%d: %v", b.guide, b.line, err)
				continue
			}
			if b.text != string(want) {
				t.Errorf("%s:%d: the block differs from %s:\n--- block\n%s--- file\n%s", b.guide, b.line, name, b.text, want)
			}
			shown[name] = true
		}
	}
	files, err := filepath.Glob(filepath.Join("conf", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no files in conf/")
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".tmpl") {
			continue
		}
		if !shown[f] {
			t.Errorf("%s is in no guide", f)
		}
	}
}

// TestMarkedBlocks checks the block reader on a small guide.
func TestMarkedBlocks(t *testing.T) {
	dir := wine.TempDir(t)
	g := filepath.Join(dir, "g.md")
	src := "text\n<!-- file: conf/a.conf -->\n```nginx\nline 1\n\nline 3\n```\n\n```\nunmarked\n```\n<!-- file: conf/b -->\n````\n```\n````\n"
	if err := os.WriteFile(g, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	got := markedBlocks(t, g)
	if len(got) != 2 || got[0].file != "conf/a.conf" || got[0].text != "line 1\n\nline 3\n" || got[1].file != "conf/b" || got[1].text != "```\n" {
		t.Errorf("got %+v", got)
	}
}
