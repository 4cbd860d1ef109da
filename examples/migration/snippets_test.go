package migration_test

import (
	"bufio"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the documents' go blocks from their source regions")

// markdownFiles returns every Markdown file of the module, relative to its root, skipping
// hidden directories (.git, .venv, .cache) and testdata.
func markdownFiles(t *testing.T) []string {
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".md") {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, must := range []string{"MIGRATION.md", "README.md"} {
		if !slices.Contains(out, must) {
			t.Fatalf("%s not found under %s", must, root)
		}
	}
	return out
}

// root is the module root, relative to this package.
const root = "../.."

// markerRE is the line above a go block that names its source:
// <!-- snippet: path/to/file.go#region -->.
var markerRE = regexp.MustCompile(`^<!-- snippet: (\S+)#(\S+) -->$`)

// TestSnippets checks that every fenced go block of the module's Markdown files
// (MIGRATION.md, the READMEs, ...) is a copy of a region of compiled Go code (see the
// package documentation): a block that differs from its region, names a region that does
// not exist, or names none fails. With -update (go generate) the blocks are rewritten from
// the regions instead.
func TestSnippets(t *testing.T) {
	cache := map[string]map[string]string{} // file → region → text
	regionOf := func(file, name string) (string, error) {
		if cache[file] == nil {
			rs, err := regions(filepath.Join(root, file))
			if err != nil {
				return "", err
			}
			cache[file] = rs
		}
		r, ok := cache[file][name]
		if !ok {
			return "", fmt.Errorf("%s has no region %q (mark it with // snippet:%s ... // end snippet:%s)", file, name, name, name)
		}
		return r, nil
	}
	for _, doc := range markdownFiles(t) {
		path := filepath.Join(root, doc)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(data), "\n")
		var out []string
		changed, blocks := false, 0
		for i := 0; i < len(lines); i++ {
			line := lines[i]
			out = append(out, line)
			if strings.TrimSpace(line) != "```go" {
				continue
			}
			blocks++
			end := i + 1
			for end < len(lines) && strings.TrimSpace(lines[end]) != "```" {
				end++
			}
			if end == len(lines) {
				t.Fatalf("%s:%d: go block is not closed", doc, i+1)
			}
			body := strings.Join(lines[i+1:end], "")
			m := markerRE.FindStringSubmatch(strings.TrimSpace(prevLine(lines, i)))
			if m == nil {
				t.Errorf("%s:%d: go block without a source: put <!-- snippet: path/file.go#region --> on the line above it and the code in that region of a compiled file", doc, i+1)
				out = append(out, lines[i+1:end]...)
				i = end - 1
				continue
			}
			want, err := regionOf(m[1], m[2])
			if err != nil {
				t.Errorf("%s:%d: %v", doc, i+1, err)
				out = append(out, lines[i+1:end]...)
				i = end - 1
				continue
			}
			if body != want {
				if *update {
					changed = true
				} else {
					t.Errorf("%s:%d: go block differs from %s#%s; run `go generate ./examples/migration` to copy the region into the document\n--- document\n%s--- source\n%s", doc, i+1, m[1], m[2], body, want)
				}
			}
			if *update {
				out = append(out, want)
			} else {
				out = append(out, lines[i+1:end]...)
			}
			i = end - 1
		}
		if changed {
			if err := os.WriteFile(path, []byte(strings.Join(out, "")), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("rewrote %s", doc)
		}
		t.Logf("%s: %d go blocks", doc, blocks)
	}
}

// prevLine returns the last non-blank line before lines[i].
func prevLine(lines []string, i int) string {
	for j := i - 1; j >= 0; j-- {
		if strings.TrimSpace(lines[j]) != "" {
			return lines[j]
		}
	}
	return ""
}

var (
	startRE = regexp.MustCompile(`^\s*// snippet:(\S+)\s*$`)
	endRE   = regexp.MustCompile(`^\s*// end snippet:(\S+)\s*$`)
)

// regions returns the snippet regions of a Go file: the lines between "// snippet:NAME"
// and "// end snippet:NAME", without marker lines (regions may nest), blank lines at
// either end trimmed and the common indentation removed.
func regions(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	open := map[string][]string{}
	var order []string
	done := map[string]string{}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if m := startRE.FindStringSubmatch(line); m != nil {
			if _, dup := open[m[1]]; dup || done[m[1]] != "" {
				return nil, fmt.Errorf("%s:%d: region %q starts twice", path, n, m[1])
			}
			open[m[1]] = []string{}
			order = append(order, m[1])
			continue
		}
		if m := endRE.FindStringSubmatch(line); m != nil {
			body, ok := open[m[1]]
			if !ok {
				return nil, fmt.Errorf("%s:%d: end of region %q that did not start", path, n, m[1])
			}
			delete(open, m[1])
			done[m[1]] = dedent(body)
			continue
		}
		for name := range open {
			open[name] = append(open[name], line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, name := range order {
		if _, ok := open[name]; ok {
			return nil, fmt.Errorf("%s: region %q does not end (add // end snippet:%s)", path, name, name)
		}
	}
	return done, nil
}

// dedent trims blank lines at both ends, removes the indentation common to all non-blank
// lines and returns the lines newline-terminated.
func dedent(lines []string) string {
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	prefix := ""
	if len(lines) > 0 {
		prefix = lines[0][:len(lines[0])-len(strings.TrimLeft(lines[0], " \t"))]
	}
	for _, l := range lines {
		for strings.TrimSpace(l) != "" && !strings.HasPrefix(l, prefix) {
			prefix = prefix[:len(prefix)-1]
		}
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.TrimRight(strings.TrimPrefix(l, prefix), " \t"))
		b.WriteByte('\n')
	}
	return b.String()
}
