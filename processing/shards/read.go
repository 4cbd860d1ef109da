package shards

import (
	"context"
	"fmt"
	"io"
	"iter"
	"path/filepath"

	"github.com/fray-go/fray/processing/jsonl"
)

// Glob returns the files matching an input glob (the syntax of Spec.Input) as local paths
// or URLs, in lexical order of their keys.
func Glob(ctx context.Context, pattern string) ([]string, error) {
	in, err := parseInput(pattern)
	if err != nil {
		return nil, err
	}
	fs, release, err := openFS(ctx, in.loc.Bucket)
	if err != nil {
		return nil, err
	}
	defer release()
	keys, err := fs.Glob(ctx, in.pattern)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = in.loc.display(k)
	}
	return out, nil
}

// parseFile splits a file's local path, file:// URL or bucket URL into its location and key.
func parseFile(p string) (location, string, error) {
	if isURL(p) {
		b, k, err := splitURL(p)
		if err != nil {
			return location{}, "", err
		}
		if k == "" {
			return location{}, "", fmt.Errorf("shards: %q names a bucket, not a file", p)
		}
		return location{Bucket: b}, k, nil
	}
	lp, err := fileURLPath(p)
	if err != nil {
		return location{}, "", err
	}
	abs, err := filepath.Abs(lp)
	if err != nil {
		return location{}, "", err
	}
	return location{Bucket: filepath.Dir(abs)}, filepath.Base(abs), nil
}

// Read iterates over the JSON Lines records of one file (a local path or URL, as Glob and
// Summary.Outputs return them), decompressed by its extension. Iteration stops at the first
// error, which is yielded with a zero T.
func Read[T any](ctx context.Context, path string) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		loc, key, err := parseFile(path)
		if err != nil {
			yield(zero, err)
			return
		}
		fs, release, err := openFS(ctx, loc.Bucket)
		if err != nil {
			yield(zero, err)
			return
		}
		defer release()
		rc, err := fs.NewReader(ctx, key)
		if err != nil {
			yield(zero, err)
			return
		}
		defer rc.Close()
		r, err := jsonl.NewReader[T](rc, jsonl.Options{Name: path})
		if err != nil {
			yield(zero, err)
			return
		}
		defer r.Close()
		for {
			v, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(zero, err)
				return
			}
			if !yield(v, nil) {
				return
			}
		}
	}
}
