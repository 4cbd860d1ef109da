package shards

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fray-go/fray/storage"
)

// A location is a bucket (a local directory, mem://name, s3://bucket?region=..., ...) and a
// key prefix inside it. Tasks receive locations as strings and open them themselves, so a
// location must mean the same thing on the driver and on a worker: local paths are made
// absolute on the driver.
type location struct {
	Bucket string // what storage.Open takes
	Prefix string // key prefix inside the bucket, "" or "a/b" (no slashes at the ends)
}

// key joins elem onto the location's prefix.
func (l location) key(elem ...string) string {
	return storage.Join(append([]string{l.Prefix}, elem...)...)
}

// display names a key of the location for people: a local path, or scheme://host/key.
func (l location) display(key string) string {
	if isURL(l.Bucket) {
		u, err := url.Parse(l.Bucket)
		if err != nil {
			return l.Bucket + "/" + key
		}
		return u.Scheme + "://" + u.Host + "/" + key
	}
	return filepath.Join(l.Bucket, filepath.FromSlash(key))
}

// isURL reports whether s is a URL other than file:// (mem://, s3://, gs://, ...).
func isURL(s string) bool {
	i := strings.Index(s, "://")
	return i > 0 && !strings.ContainsAny(s[:i], `/\`) && !strings.HasPrefix(s, "file://")
}

// fileURLPath turns file:///a/b into /a/b; other strings are returned unchanged.
func fileURLPath(s string) (string, error) {
	if !strings.HasPrefix(s, "file://") {
		return s, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("shards: bad file URL %q: %w", s, err)
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", fmt.Errorf("shards: file URL %q names host %q; only local files can be addressed with file://", s, u.Host)
	}
	return u.Path, nil
}

// splitURL splits scheme://host/key/path?query into the bucket URL (scheme://host?query)
// and the key path. As in every storage URL, "?" starts the query, so a glob in a URL
// cannot use "?" as a wildcard.
func splitURL(s string) (bucket, key string, err error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", "", fmt.Errorf("shards: bad URL %q: %w", s, err)
	}
	if u.Host == "" {
		return "", "", fmt.Errorf("shards: URL %q has no bucket name (want scheme://bucket/path)", s)
	}
	b := u.Scheme + "://" + u.Host
	if u.RawQuery != "" {
		b += "?" + u.RawQuery
	}
	return b, strings.Trim(u.Path, "/"), nil
}

// parseOutput turns an output directory (local path, file:// URL or bucket URL with a
// path) into a location.
func parseOutput(out string) (location, error) {
	if out == "" {
		return location{}, errors.New("shards: Spec.Output is empty: give a directory or a bucket URL for the output shards")
	}
	if isURL(out) {
		b, k, err := splitURL(out)
		if err != nil {
			return location{}, err
		}
		return location{Bucket: b, Prefix: k}, nil
	}
	p, err := fileURLPath(out)
	if err != nil {
		return location{}, err
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return location{}, fmt.Errorf("shards: output %q: %w", out, err)
	}
	return location{Bucket: abs}, nil
}

// inputGlob is a parsed Spec.Input: the location of the glob's literal directory and the
// pattern relative to the bucket.
type inputGlob struct {
	loc     location // bucket and literal directory prefix
	pattern string   // glob over bucket keys
}

// parseInput splits a glob such as /data/in/**/*.jsonl.gz, file:///data/in/*.jsonl,
// mem://b/in/*.jsonl or s3://bucket/in/*.jsonl.zst?region=x. The directories before the
// first component with a wildcard are the literal base; shard names (and so output names)
// are paths relative to it. A glob without wildcards names one file.
func parseInput(in string) (inputGlob, error) {
	if in == "" {
		return inputGlob{}, errors.New("shards: Spec.Input is empty: give a glob such as /data/docs/*.jsonl.gz or s3://bucket/docs/*.jsonl.zst")
	}
	if isURL(in) {
		b, k, err := splitURL(in)
		if err != nil {
			return inputGlob{}, err
		}
		if k == "" {
			return inputGlob{}, fmt.Errorf("shards: input %q has no path inside the bucket; add a pattern such as /*.jsonl", in)
		}
		base, _ := splitLiteral(k)
		return inputGlob{loc: location{Bucket: b, Prefix: unescape(base)}, pattern: k}, nil
	}
	p, err := fileURLPath(in)
	if err != nil {
		return inputGlob{}, err
	}
	p = filepath.ToSlash(p)
	abs := path.IsAbs(p)
	base, rest := splitLiteral(strings.TrimPrefix(p, "/"))
	if abs {
		base = "/" + base
	}
	dir, err := filepath.Abs(filepath.FromSlash(unescape(base)))
	if err != nil {
		return inputGlob{}, fmt.Errorf("shards: input %q: %w", in, err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return inputGlob{}, fmt.Errorf("shards: input %q: directory %s: %w", in, dir, err)
	}
	if !st.IsDir() {
		return inputGlob{}, fmt.Errorf("shards: input %q: %s is not a directory", in, dir)
	}
	return inputGlob{loc: location{Bucket: dir}, pattern: rest}, nil
}

// splitLiteral splits a slash path into its literal directory part (components before the
// first one with an unescaped wildcard, or every component but the last) and the rest.
func splitLiteral(p string) (base, rest string) {
	parts := strings.Split(p, "/")
	n := len(parts) - 1 // the last component is always part of the pattern
	for i, c := range parts[:n] {
		if hasWildcard(c) {
			n = i
			break
		}
	}
	return strings.Join(parts[:n], "/"), strings.Join(parts[n:], "/")
}

// hasWildcard reports whether a glob component has an unescaped * or ?.
func hasWildcard(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '*', '?':
			return true
		}
	}
	return false
}

// unescape removes glob escapes from a literal path.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// memBuckets keeps mem:// buckets open for the life of the process, by URL, so that the
// driver and the tasks the local backend runs in-process see the same objects (each
// storage.Open of mem:// is otherwise a new, empty bucket). mem:// data never leaves the
// process: tasks in worker processes or on Ray cannot see it.
var memBuckets sync.Map // bucket URL → *storage.FS

var memMu sync.Mutex

// openFS opens a bucket; release closes it (a no-op for shared mem:// buckets).
func openFS(ctx context.Context, bucket string) (fs *storage.FS, release func(), err error) {
	if strings.HasPrefix(bucket, "mem://") {
		if v, ok := memBuckets.Load(bucket); ok {
			return v.(*storage.FS), func() {}, nil
		}
		memMu.Lock()
		defer memMu.Unlock()
		if v, ok := memBuckets.Load(bucket); ok {
			return v.(*storage.FS), func() {}, nil
		}
		fs, err := storage.Open(ctx, bucket)
		if err != nil {
			return nil, nil, err
		}
		memBuckets.Store(bucket, fs)
		return fs, func() {}, nil
	}
	fs, err = storage.Open(ctx, bucket)
	if err != nil {
		return nil, nil, err
	}
	return fs, func() { _ = fs.Close() }, nil
}

// OpenBucket opens a bucket location the way shard tasks do: mem:// locations are shared by
// URL within the process (see Spec.Input), anything else is storage.Open. Call release when
// done. Use it to put test data where a Run will find it, or to read what a Run wrote.
func OpenBucket(ctx context.Context, bucket string) (fs *storage.FS, release func(), err error) {
	return openFS(ctx, bucket)
}

// Compression says how output shards are compressed: by their file extension, as
// processing/jsonl reads and writes them.
type Compression int

const (
	// SameAsInput (the default) gives each output the compression of its input.
	SameAsInput Compression = iota
	// Plain writes uncompressed outputs (no extra extension).
	Plain
	// Gzip writes gzip outputs (".gz").
	Gzip
	// Zstd writes zstandard outputs (".zst").
	Zstd
)

// String names the compression.
func (c Compression) String() string {
	switch c {
	case SameAsInput:
		return "same-as-input"
	case Plain:
		return "plain"
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// compressionExts are the extensions processing/jsonl recognises, longest first.
var compressionExts = []string{".zstd", ".zst", ".gz"}

// splitName splits a shard name into stem, data extension and compression extension:
// "a/part-1.jsonl.gz" → "a/part-1", ".jsonl", ".gz".
func splitName(name string) (stem, ext, comp string) {
	for _, c := range compressionExts {
		if len(name) >= len(c) && strings.EqualFold(name[len(name)-len(c):], c) {
			comp = name[len(name)-len(c):]
			name = name[:len(name)-len(c)]
			break
		}
	}
	base := name[strings.LastIndexByte(name, '/')+1:]
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		ext = base[i:]
		name = name[:len(name)-len(base)+i]
	}
	return name, ext, comp
}

// outputName derives an output shard's name from its input's name relative to the input
// base: the data extension becomes ext (when not empty) and the compression extension
// follows c.
func outputName(rel, ext string, c Compression) string {
	stem, inExt, inComp := splitName(rel)
	if ext == "" {
		ext = inExt
	}
	comp := inComp
	switch c {
	case Plain:
		comp = ""
	case Gzip:
		comp = ".gz"
	case Zstd:
		comp = ".zst"
	}
	return stem + ext + comp
}
