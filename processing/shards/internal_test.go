package shards

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSplitName(t *testing.T) {
	for _, c := range []struct{ in, stem, ext, comp string }{
		{"a.jsonl", "a", ".jsonl", ""},
		{"a.jsonl.gz", "a", ".jsonl", ".gz"},
		{"dir/part-1.jsonl.zst", "dir/part-1", ".jsonl", ".zst"},
		{"x.JSONL.ZSTD", "x", ".JSONL", ".ZSTD"},
		{"noext", "noext", "", ""},
		{"noext.gz", "noext", "", ".gz"},
		{"en.wiki.part1.jsonl.gz", "en.wiki.part1", ".jsonl", ".gz"},
		{".hidden", ".hidden", "", ""},
		{"d.v/file", "d.v/file", "", ""},
	} {
		stem, ext, comp := splitName(c.in)
		if stem != c.stem || ext != c.ext || comp != c.comp {
			t.Errorf("splitName(%q) = %q %q %q, want %q %q %q", c.in, stem, ext, comp, c.stem, c.ext, c.comp)
		}
	}
}

func FuzzSplitName(f *testing.F) {
	for _, s := range []string{"a.jsonl.gz", "x", "a/b.c/d.e.zst", ".gz", "..", "a..gz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		stem, ext, comp := splitName(s)
		if stem+ext+comp != s {
			t.Fatalf("splitName(%q) = %q %q %q does not rebuild the name", s, stem, ext, comp)
		}
		if got := outputName(s, "", SameAsInput); got != s {
			t.Fatalf("outputName(%q, keep) = %q", s, got)
		}
	})
}

func TestOutputName(t *testing.T) {
	for _, c := range []struct {
		rel, ext string
		comp     Compression
		want     string
	}{
		{"a.jsonl.gz", "", SameAsInput, "a.jsonl.gz"},
		{"a.jsonl.gz", ".jsonl", Zstd, "a.jsonl.zst"},
		{"a.jsonl.zst", ".tok", Plain, "a.tok"},
		{"sub/a.json", ".jsonl", Gzip, "sub/a.jsonl.gz"},
		{"a", ".jsonl", SameAsInput, "a.jsonl"},
	} {
		if got := outputName(c.rel, c.ext, c.comp); got != c.want {
			t.Errorf("outputName(%q, %q, %v) = %q, want %q", c.rel, c.ext, c.comp, got, c.want)
		}
	}
}

func TestParseInput(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "in", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in                      string
		bucket, prefix, pattern string
	}{
		{dir + "/in/*.jsonl", dir + "/in", "", "*.jsonl"},
		{dir + "/in/**/*.jsonl.gz", dir + "/in", "", "**/*.jsonl.gz"},
		{dir + "/in/x/one.jsonl", dir + "/in/x", "", "one.jsonl"},
		{dir + "/in/*/y/*.jsonl", dir + "/in", "", "*/y/*.jsonl"},
		{"file://" + dir + "/in/*.jsonl", dir + "/in", "", "*.jsonl"},
		{"mem://b/in/*.jsonl", "mem://b", "in", "in/*.jsonl"},
		{"mem://b/*.jsonl", "mem://b", "", "*.jsonl"},
		{"s3://bucket/a/b/**/*.zst?region=us-east-1", "s3://bucket?region=us-east-1", "a/b", "a/b/**/*.zst"},
	} {
		g, err := parseInput(c.in)
		if err != nil {
			t.Errorf("parseInput(%q): %v", c.in, err)
			continue
		}
		if g.loc.Bucket != c.bucket || g.loc.Prefix != c.prefix || g.pattern != c.pattern {
			t.Errorf("parseInput(%q) = %+v, want bucket %q prefix %q pattern %q", c.in, g, c.bucket, c.prefix, c.pattern)
		}
	}
	for _, bad := range []string{"", dir + "/missing/*.jsonl", "mem://b", "mem:///x/*.jsonl", "file://otherhost/x/*.jsonl"} {
		if _, err := parseInput(bad); err == nil {
			t.Errorf("parseInput(%q): no error", bad)
		}
	}
}

func TestParseOutput(t *testing.T) {
	wd, _ := os.Getwd()
	for _, c := range []struct{ in, bucket, prefix string }{
		{"/data/out", "/data/out", ""},
		{"rel/out", filepath.Join(wd, "rel/out"), ""},
		{"file:///data/out", "/data/out", ""},
		{"mem://b/out/x", "mem://b", "out/x"},
		{"gs://bucket", "gs://bucket", ""},
	} {
		l, err := parseOutput(c.in)
		if err != nil || l.Bucket != c.bucket || l.Prefix != c.prefix {
			t.Errorf("parseOutput(%q) = %+v, %v; want %q %q", c.in, l, err, c.bucket, c.prefix)
		}
	}
	if _, err := parseOutput(""); err == nil {
		t.Error("parseOutput(\"\"): no error")
	}
}
