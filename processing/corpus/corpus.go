// Package corpus builds a real text corpus from material present on every
// machine that can build this module: the Go distribution itself (its
// documentation, the package documentation comments and the standard
// library sources) and, when installed, the system manual pages.
//
//	err := corpus.Walk(ctx, corpus.Options{MaxPerSource: 100, MaxTextBytes: 32 << 10},
//		func(d corpus.Document) error {
//			fmt.Println(d.ID, d.Source, len(d.Text))
//			return nil
//		})
//
// Documents are produced in a deterministic order: sources in the order
// SourceGoDoc, SourcePackageDoc, SourceGoSource, SourceMan, and within a
// source by sorted file path. The same GOROOT and man directory therefore
// always yield the same sequence, so document IDs and any split derived
// from them are reproducible.
package corpus

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"unicode/utf8"
)

// Source names.
const (
	// SourceGoDoc is $GOROOT/doc: the language spec, memory model, release
	// notes and similar long-form prose (HTML/Markdown, markup stripped).
	SourceGoDoc = "go-doc"
	// SourcePackageDoc is the package documentation comment of every
	// package under $GOROOT/src: edited English prose about code.
	SourcePackageDoc = "go-pkgdoc"
	// SourceGoSource is every non-test .go file under $GOROOT/src
	// (excluding testdata and vendor trees), verbatim.
	SourceGoSource = "go-src"
	// SourceMan is the English manual pages (man1..man9 directly under
	// the man directory), with roff markup stripped.
	SourceMan = "man"
)

// AllSources lists every source in emission order.
var AllSources = []string{SourceGoDoc, SourcePackageDoc, SourceGoSource, SourceMan}

// Document is one corpus entry.
type Document struct {
	// ID is unique and stable: "<source>:<path relative to the source root>".
	ID string `json:"id"`
	// Source is one of the Source* constants.
	Source string `json:"source"`
	// Path is the file (or, for package docs, directory) it came from.
	Path string `json:"path"`
	// Title is a short human label (package path, page name, file name).
	Title string `json:"title,omitempty"`
	// Text is the extracted UTF-8 text.
	Text string `json:"text"`
}

// Options controls what Walk emits.
type Options struct {
	// GoRoot is the Go installation to read; "" means GoRoot().
	GoRoot string
	// ManDir is the manual page root; "" means /usr/share/man. A missing
	// directory is not an error: the source is simply empty.
	ManDir string
	// Sources restricts the sources (any order; emission order is fixed);
	// nil means AllSources.
	Sources []string
	// MaxDocs stops after this many documents in total; 0 means no limit.
	MaxDocs int
	// MaxPerSource caps each source; 0 means no limit.
	MaxPerSource int
	// MinTextBytes drops documents whose text is shorter (after
	// extraction); 0 means 64.
	MinTextBytes int
	// MaxTextBytes truncates longer texts at a UTF-8 boundary; 0 means 1 MiB.
	MaxTextBytes int
}

// GoRoot returns the Go installation root: $GOROOT if set, else the
// output of "go env GOROOT", else runtime.GOROOT() (the latter is empty for
// binaries built with -trimpath).
func GoRoot() string {
	if r := os.Getenv("GOROOT"); r != "" {
		return r
	}
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		if r := strings.TrimSpace(string(out)); r != "" {
			return r
		}
	}
	//lint:ignore SA1019 last-resort fallback
	return runtime.GOROOT() //nolint:staticcheck
}

// errStop ends the walk once a limit is reached.
var errStop = errors.New("stop")

// Walk calls fn for each document in deterministic order. It stops at the
// first error from fn, from the file system, or from ctx.
func Walk(ctx context.Context, opts Options, fn func(Document) error) error {
	if opts.GoRoot == "" {
		opts.GoRoot = GoRoot()
	}
	if opts.ManDir == "" {
		opts.ManDir = "/usr/share/man"
	}
	if opts.MinTextBytes == 0 {
		opts.MinTextBytes = 64
	}
	if opts.MaxTextBytes == 0 {
		opts.MaxTextBytes = 1 << 20
	}
	want := map[string]bool{}
	srcs := opts.Sources
	if srcs == nil {
		srcs = AllSources
	}
	for _, s := range srcs {
		if !contains(AllSources, s) {
			return fmt.Errorf("corpus: unknown source %q", s)
		}
		want[s] = true
	}
	if want[SourceGoDoc] || want[SourcePackageDoc] || want[SourceGoSource] {
		if st, err := os.Stat(filepath.Join(opts.GoRoot, "src")); err != nil || !st.IsDir() {
			return fmt.Errorf("corpus: %q is not a Go root (no src directory)", opts.GoRoot)
		}
	}
	total := 0
	for _, src := range AllSources {
		if !want[src] {
			continue
		}
		n := 0
		emit := func(d Document) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			d.Text = clip(d.Text, opts.MaxTextBytes)
			if len(d.Text) < opts.MinTextBytes {
				return nil
			}
			if err := fn(d); err != nil {
				return err
			}
			n++
			total++
			if opts.MaxDocs > 0 && total >= opts.MaxDocs {
				return errStop
			}
			if opts.MaxPerSource > 0 && n >= opts.MaxPerSource {
				return errSourceDone
			}
			return nil
		}
		var err error
		switch src {
		case SourceGoDoc:
			err = walkGoDoc(opts.GoRoot, emit)
		case SourcePackageDoc:
			err = walkPackageDocs(opts.GoRoot, emit)
		case SourceGoSource:
			err = walkGoSource(opts.GoRoot, emit)
		case SourceMan:
			err = walkMan(opts.ManDir, emit)
		}
		switch {
		case errors.Is(err, errStop):
			return nil
		case errors.Is(err, errSourceDone):
		case err != nil:
			return err
		}
	}
	return nil
}

var errSourceDone = errors.New("source done")

// Collect returns all documents Walk would emit.
func Collect(ctx context.Context, opts Options) ([]Document, error) {
	var docs []Document
	err := Walk(ctx, opts, func(d Document) error {
		docs = append(docs, d)
		return nil
	})
	return docs, err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// clip truncates s to at most max bytes without splitting a rune and
// replaces invalid UTF-8.
func clip(s string, max int) string {
	if len(s) > max {
		i := max
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i]
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

// sortedFiles returns the regular files under root accepted by keep, in
// sorted order of their slash-separated relative paths. Directories for
// which skipDir returns true are not entered.
func sortedFiles(root string, skipDir func(rel, name string) bool, keep func(rel string, d fs.DirEntry) bool) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			return nil // unreadable entry: skip
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if p != root && skipDir != nil && skipDir(rel, d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if keep(rel, d) {
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

func skipGoDir(_ string, name string) bool {
	return name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

func walkGoDoc(goroot string, emit func(Document) error) error {
	root := filepath.Join(goroot, "doc")
	files, err := sortedFiles(root, nil, func(rel string, d fs.DirEntry) bool {
		return d.Type().IsRegular() && (strings.HasSuffix(rel, ".html") || strings.HasSuffix(rel, ".md"))
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, rel := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		text := string(b)
		if strings.HasSuffix(rel, ".html") {
			text = StripHTML(text)
		}
		if err := emit(Document{ID: SourceGoDoc + ":" + rel, Source: SourceGoDoc, Path: p, Title: rel, Text: text}); err != nil {
			return err
		}
	}
	return nil
}

func walkPackageDocs(goroot string, emit func(Document) error) error {
	src := filepath.Join(goroot, "src")
	files, err := sortedFiles(src, skipGoDir, func(rel string, d fs.DirEntry) bool {
		return d.Type().IsRegular() && strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go")
	})
	if err != nil {
		return err
	}
	// Group files by directory, keeping sorted order.
	byDir := map[string][]string{}
	var dirs []string
	for _, rel := range files {
		dir := pathDir(rel)
		if _, ok := byDir[dir]; !ok {
			dirs = append(dirs, dir)
		}
		byDir[dir] = append(byDir[dir], rel)
	}
	sort.Strings(dirs)
	fset := token.NewFileSet()
	for _, dir := range dirs {
		var parts []string
		seen := map[string]bool{}
		for _, rel := range byDir[dir] {
			f, err := parser.ParseFile(fset, filepath.Join(src, filepath.FromSlash(rel)), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil || f.Doc == nil {
				continue
			}
			t := strings.TrimSpace(f.Doc.Text())
			if t == "" || seen[t] || strings.HasPrefix(t, "Code generated") {
				continue
			}
			seen[t] = true
			parts = append(parts, t)
		}
		if len(parts) == 0 {
			continue
		}
		d := Document{
			ID:     SourcePackageDoc + ":" + dir,
			Source: SourcePackageDoc,
			Path:   filepath.Join(src, filepath.FromSlash(dir)),
			Title:  dir,
			Text:   strings.Join(parts, "\n\n"),
		}
		if err := emit(d); err != nil {
			return err
		}
	}
	return nil
}

func pathDir(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return "."
}

func walkGoSource(goroot string, emit func(Document) error) error {
	src := filepath.Join(goroot, "src")
	files, err := sortedFiles(src, skipGoDir, func(rel string, d fs.DirEntry) bool {
		return d.Type().IsRegular() && strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go")
	})
	if err != nil {
		return err
	}
	for _, rel := range files {
		p := filepath.Join(src, filepath.FromSlash(rel))
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := emit(Document{ID: SourceGoSource + ":" + rel, Source: SourceGoSource, Path: p, Title: rel, Text: string(b)}); err != nil {
			return err
		}
	}
	return nil
}

var manSection = regexp.MustCompile(`^man[1-9]$`)

func walkMan(root string, emit func(Document) error) error {
	if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	files, err := sortedFiles(root, func(rel, name string) bool {
		// Only top-level English sections; localized trees are skipped.
		return !manSection.MatchString(rel)
	}, func(rel string, d fs.DirEntry) bool {
		return d.Type().IsRegular() // symlinks are aliases of other pages
	})
	if err != nil {
		return err
	}
	for _, rel := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		raw, err := readMaybeGzip(p)
		if err != nil {
			continue // corrupt page: skip rather than abort the corpus
		}
		if bytes.HasPrefix(raw, []byte(".so ")) {
			continue // redirect to another page
		}
		title := strings.TrimSuffix(filepath.Base(rel), ".gz")
		if err := emit(Document{ID: SourceMan + ":" + rel, Source: SourceMan, Path: p, Title: title, Text: StripRoff(string(raw))}); err != nil {
			return err
		}
	}
	return nil
}

// maxManBytes bounds a decompressed man page (defends against bombs).
const maxManBytes = 8 << 20

func readMaybeGzip(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(p, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	}
	return io.ReadAll(io.LimitReader(r, maxManBytes))
}
