package executor

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fray-go/fray/storage"
)

// Paths: the prefix and every output path are strings naming a location in the storage
// package's terms: a local path, file://..., mem://name/..., s3://bucket/dir, gs://...,
// azblob://.... The executor joins them with JoinPath and reads and writes the few files it
// owns (.executor_status, .executor_info, experiment records) through a pathStore, which
// opens one bucket per location root and caches it.

// JoinPath joins elements onto a path or URL with "/", keeping a URL's query string (bucket
// options such as ?region=...) at the end.
func JoinPath(base string, elem ...string) string {
	q := ""
	if isURL(base) {
		if i := strings.IndexByte(base, '?'); i >= 0 {
			base, q = base[:i], base[i:]
		}
	}
	var parts []string
	if base != "" {
		parts = append(parts, strings.TrimRight(base, "/")) // "/" becomes "", joining to "/x"
	}
	for _, e := range elem {
		if e = strings.Trim(e, "/"); e != "" {
			parts = append(parts, e)
		}
	}
	out := strings.Join(parts, "/")
	if !isURL(base) && out != "" {
		out = filepath.ToSlash(filepath.Clean(filepath.FromSlash(out)))
	}
	return out + q
}

// isURL reports whether p is scheme://... rather than a local path.
func isURL(p string) bool {
	i := strings.Index(p, "://")
	return i > 0 && !strings.ContainsAny(p[:i], `/\`)
}

// isAbsolute reports whether p is an absolute local path or a URL.
func isAbsolute(p string) bool { return isURL(p) || filepath.IsAbs(p) }

// location is where a path lives: a bucket opened from root, and a key inside it.
type location struct {
	root string // what storage.Open gets
	key  string // slash-separated key inside the bucket ("" for the root itself)
}

// splitLocation maps a full path onto a bucket root and key. URLs: the bucket is
// scheme://host plus the query string, the key is the URL path. file:// URLs and local
// paths: the bucket is the directory itself (or, for a file, its parent directory).
func splitLocation(p string, isDir bool) (location, error) {
	if strings.HasPrefix(p, "file://") {
		u, err := url.Parse(p)
		if err != nil {
			return location{}, fmt.Errorf("executor: bad path %q: %w", p, err)
		}
		p = u.Path
	} else if isURL(p) {
		u, err := url.Parse(p)
		if err != nil {
			return location{}, fmt.Errorf("executor: bad path %q: %w", p, err)
		}
		root := u.Scheme + "://" + u.Host
		if u.RawQuery != "" {
			root += "?" + u.RawQuery
		}
		return location{root: root, key: strings.Trim(u.Path, "/")}, nil
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return location{}, fmt.Errorf("executor: bad path %q: %w", p, err)
	}
	if isDir {
		return location{root: abs}, nil
	}
	return location{root: filepath.Dir(abs), key: filepath.Base(abs)}, nil
}

// pathStore reads and writes whole files by full path.
type pathStore struct {
	mu      sync.Mutex
	buckets map[string]*storage.FS
	roots   []string // local directories (absolute) opened as one bucket each
}

// addLocalRoot makes files under dir (a local path) share one bucket opened at dir.
func (s *pathStore) addLocalRoot(dir string) {
	if isURL(dir) {
		return
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.roots = append(s.roots, abs)
	s.mu.Unlock()
}

// locate is splitLocation, preferring a registered local root.
func (s *pathStore) locate(p string, isDir bool) (location, error) {
	if !isURL(p) {
		abs, err := filepath.Abs(p)
		if err == nil {
			s.mu.Lock()
			roots := s.roots
			s.mu.Unlock()
			for _, r := range roots {
				if rel, err := filepath.Rel(r, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
					if rel == "." {
						rel = ""
					}
					return location{root: r, key: filepath.ToSlash(rel)}, nil
				}
			}
		}
	}
	return splitLocation(p, isDir)
}

// memBuckets keeps mem:// buckets for the life of the process, one per URL host, so that
// every executor (and the CLI's status command) in a process sees the same in-memory data
// under the same mem:// prefix. Without this each Open of mem:// would be a fresh bucket.
var memBuckets = struct {
	sync.Mutex
	m map[string]*storage.FS
}{m: map[string]*storage.FS{}}

func newPathStore() *pathStore { return &pathStore{buckets: map[string]*storage.FS{}} }

func (s *pathStore) open(ctx context.Context, root string) (*storage.FS, error) {
	if strings.HasPrefix(root, "mem://") {
		memBuckets.Lock()
		defer memBuckets.Unlock()
		if fs, ok := memBuckets.m[root]; ok {
			return fs, nil
		}
		fs, err := storage.Open(ctx, root)
		if err != nil {
			return nil, err
		}
		memBuckets.m[root] = fs
		return fs, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if fs, ok := s.buckets[root]; ok {
		return fs, nil
	}
	fs, err := storage.Open(ctx, root)
	if err != nil {
		return nil, err
	}
	s.buckets[root] = fs
	return fs, nil
}

// ReadFile returns the file's contents; a missing file is an error matching
// storage.ErrNotFound.
func (s *pathStore) ReadFile(ctx context.Context, p string) ([]byte, error) {
	loc, err := s.locate(p, false)
	if err != nil {
		return nil, err
	}
	fs, err := s.open(ctx, loc.root)
	if err != nil {
		return nil, err
	}
	return fs.ReadFile(ctx, loc.key)
}

// WriteFileAtomic replaces the file with data in one step.
func (s *pathStore) WriteFileAtomic(ctx context.Context, p string, data []byte) error {
	loc, err := s.locate(p, false)
	if err != nil {
		return err
	}
	fs, err := s.open(ctx, loc.root)
	if err != nil {
		return err
	}
	return fs.WriteFileAtomic(ctx, loc.key, data)
}

// Find returns the paths, relative to dir, of every file under dir whose base name is
// base, sorted.
func (s *pathStore) Find(ctx context.Context, dir, base string) ([]string, error) {
	loc, err := s.locate(dir, true)
	if err != nil {
		return nil, err
	}
	fs, err := s.open(ctx, loc.root)
	if err != nil {
		return nil, err
	}
	prefix := loc.key
	if prefix != "" {
		prefix += "/"
	}
	attrs, err := fs.List(ctx, prefix)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, a := range attrs {
		if path.Base(a.Key) == base {
			out = append(out, strings.TrimPrefix(a.Key, prefix))
		}
	}
	return out, nil
}

// Close closes the buckets this store opened (not the process-wide mem:// ones).
func (s *pathStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for k, fs := range s.buckets {
		errs = append(errs, fs.Close())
		delete(s.buckets, k)
	}
	return errors.Join(errs...)
}

// fsFor opens the bucket that holds p and returns it with p's key in it.
func (s *pathStore) fsFor(ctx context.Context, p string, isDir bool) (*storage.FS, string, error) {
	loc, err := s.locate(p, isDir)
	if err != nil {
		return nil, "", err
	}
	fs, err := s.open(ctx, loc.root)
	if err != nil {
		return nil, "", err
	}
	return fs, loc.key, nil
}

// CreateExclusive writes the file only if it does not exist (storage.CreateExclusive); an
// existing file is an error matching storage.ErrExists.
func (s *pathStore) CreateExclusive(ctx context.Context, p string, data []byte) error {
	fs, key, err := s.fsFor(ctx, p, false)
	if err != nil {
		return err
	}
	return fs.CreateExclusive(ctx, key, data)
}

// Delete removes the file; a missing file is an error matching storage.ErrNotFound.
func (s *pathStore) Delete(ctx context.Context, p string) error {
	fs, key, err := s.fsFor(ctx, p, false)
	if err != nil {
		return err
	}
	return fs.Delete(ctx, key)
}

// ListNames returns the base names of the files directly in dir whose names start with
// namePrefix, sorted (storage.FS.Names).
func (s *pathStore) ListNames(ctx context.Context, dir, namePrefix string) ([]string, error) {
	fs, key, err := s.fsFor(ctx, dir, true)
	if err != nil {
		return nil, err
	}
	return fs.Names(ctx, key, namePrefix)
}

// RemoveTempFiles deletes the temporary files that interrupted writes left under dir,
// skipping directories that are other steps' outputs (they hold a status file) and the
// files keep picks, and returns their keys (storage.FS.RemoveTempFiles).
func (s *pathStore) RemoveTempFiles(ctx context.Context, dir string, keep func(key string, modTime time.Time) bool) ([]string, error) {
	fs, key, err := s.fsFor(ctx, dir, true)
	if err != nil {
		return nil, err
	}
	return fs.RemoveTempFiles(ctx, key, StatusFileName, keep)
}
