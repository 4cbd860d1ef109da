package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"gocloud.dev/blob"
)

// Names returns, sorted, the base names of the objects directly under the
// "directory" dir (a key prefix without the trailing "/"; "" for the bucket
// root) whose names start with namePrefix. Local buckets read the directory
// itself, so files that other processes create, rename or delete next to
// these names at the same time never make it fail; a missing directory has
// no names. Temporary files of writes in flight are not listed.
func (f *FS) Names(ctx context.Context, dir, namePrefix string) ([]string, error) {
	var out []string
	if f.local != "" {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ents, err := os.ReadDir(filepath.Join(f.local, filepath.FromSlash(dir)))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, nil
			}
			return nil, fmt.Errorf("storage: list %s/%s: %w", f.url, dir, err)
		}
		for _, e := range ents {
			if n := e.Name(); !e.IsDir() && strings.HasPrefix(n, namePrefix) && !inFlight.MatchString(n) {
				out = append(out, n)
			}
		}
		return out, nil // ReadDir sorts by name
	}
	prefix := dir
	if prefix != "" {
		prefix += "/"
	}
	it := f.bucket.List(&blob.ListOptions{Prefix: prefix + namePrefix, Delimiter: "/"})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, f.wrap("list", prefix+namePrefix, err)
		}
		if !obj.IsDir {
			out = append(out, strings.TrimPrefix(obj.Key, prefix))
		}
	}
	sort.Strings(out)
	return out, nil
}

// IsTempFile reports whether a key has the shape of a local bucket's
// in-flight temporary file ("<key>.<hex>.tmp"): what an atomic write leaves
// behind when its process is killed before it publishes the object.
func IsTempFile(key string) bool { return inFlight.MatchString(key) }

// RemoveTempFiles deletes the temporary files ("<key>.<hex>.tmp") that
// interrupted writes left under prefix in a local bucket, and returns their
// keys. Directories below prefix that hold a file named skipDirsWith (when it
// is not "") are not entered: they belong to someone else. A temporary file
// for which keep (when not nil) returns true is left alone. Remote and
// in-memory buckets have no such files (an unfinished upload is never
// visible), so for them it does nothing.
//
// Only call it when no writer can be active under prefix: a temporary file
// of a write in progress looks exactly like a stale one.
func (f *FS) RemoveTempFiles(ctx context.Context, prefix, skipDirsWith string, keep func(key string, modTime time.Time) bool) ([]string, error) {
	if f.local == "" {
		return nil, nil
	}
	root := filepath.Join(f.local, filepath.FromSlash(prefix))
	var removed []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && skipDirsWith != "" {
				if _, err := os.Lstat(filepath.Join(p, skipDirsWith)); err == nil {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !d.Type().IsRegular() || !inFlight.MatchString(d.Name()) {
			return nil
		}
		rel, _ := filepath.Rel(f.local, p)
		key := filepath.ToSlash(rel)
		if keep != nil {
			info, err := d.Info()
			if err != nil {
				return nil // gone meanwhile
			}
			if keep(key, info.ModTime()) {
				return nil
			}
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		removed = append(removed, key)
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("storage: removing temporary files under %s/%s: %w", f.url, prefix, err)
	}
	return removed, nil
}

// inFlight matches fileblob's temporary files ("<name>.<hex nanos>.tmp").
var inFlight = regexp.MustCompile(`\.[0-9a-f]+\.tmp$`)

// List returns, in lexical order, every key that starts with prefix
// (recursively; "directories" are not returned as entries). For local
// buckets, in-flight temporary files of concurrent writers (named
// "<key>.<hex>.tmp") are not listed, so keys of that exact shape should be
// avoided.
func (f *FS) List(ctx context.Context, prefix string) ([]Attributes, error) {
	for attempt := 1; ; attempt++ {
		out, err := f.list(ctx, prefix)
		// fileblob stats every file it lists, and a file deleted between the directory read
		// and the stat fails the whole listing with a not-found error (a missing directory
		// lists as empty instead). Files come and go beside the listed ones all the time —
		// other writers' temporary files, executors' lease files — so list again.
		if err != nil && f.local != "" && IsNotFound(err) && attempt < 50 && ctx.Err() == nil {
			continue
		}
		return out, err
	}
}

func (f *FS) list(ctx context.Context, prefix string) ([]Attributes, error) {
	var out []Attributes
	it := f.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, f.wrap("list", prefix, err)
		}
		if obj.IsDir {
			continue
		}
		if f.local != "" && inFlight.MatchString(obj.Key) {
			continue
		}
		out = append(out, Attributes{Key: obj.Key, Size: obj.Size, ModTime: obj.ModTime})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Glob returns, in lexical order, the keys matching pattern. In the pattern
// "*" matches any run of characters except "/", "**" matches any run
// including "/" (so "a/**/b" matches "a/b" and "a/x/y/b"), "?" matches one
// character other than "/", and "\" escapes the next character. Only the
// literal prefix of the pattern is listed, so anchored patterns are cheap.
func (f *FS) Glob(ctx context.Context, pattern string) ([]string, error) {
	re, prefix, err := CompileGlob(pattern)
	if err != nil {
		return nil, err
	}
	objs, err := f.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, o := range objs {
		if re.MatchString(o.Key) {
			keys = append(keys, o.Key)
		}
	}
	return keys, nil
}

// CompileGlob translates a Glob pattern to an anchored regular expression and
// returns the pattern's literal prefix (the part before the first wildcard).
func CompileGlob(pattern string) (*regexp.Regexp, string, error) {
	var sb strings.Builder
	var prefix strings.Builder
	literal := true
	sb.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch c {
		case '*':
			literal = false
			if i+1 < len(pattern) && pattern[i+1] == '*' {
				i++
				// "**/" also matches zero directories.
				if i+1 < len(pattern) && pattern[i+1] == '/' {
					i++
					sb.WriteString("(?:.*/)?")
				} else {
					sb.WriteString(".*")
				}
			} else {
				sb.WriteString("[^/]*")
			}
		case '?':
			literal = false
			sb.WriteString("[^/]")
		case '\\':
			if i+1 >= len(pattern) {
				return nil, "", fmt.Errorf("storage: glob %q: trailing backslash", pattern)
			}
			i++
			_, size := utf8.DecodeRuneInString(pattern[i:])
			sb.WriteString(regexp.QuoteMeta(pattern[i : i+size]))
			if literal {
				prefix.WriteString(pattern[i : i+size])
			}
			i += size - 1
		default:
			_, size := utf8.DecodeRuneInString(pattern[i:])
			sb.WriteString(regexp.QuoteMeta(pattern[i : i+size]))
			if literal {
				prefix.WriteString(pattern[i : i+size])
			}
			i += size - 1
		}
	}
	sb.WriteString("$")
	re, err := regexp.Compile(sb.String())
	if err != nil {
		return nil, "", fmt.Errorf("storage: glob %q: %w", pattern, err)
	}
	return re, prefix.String(), nil
}
