// Package storage is a thin, URL-addressed layer over gocloud.dev/blob.
//
//	fs, err := storage.Open(ctx, "gs://bucket/runs") // or "/data/runs", "mem://test"
//	if err != nil { ... }
//	defer fs.Close()
//	err = fs.WriteFileAtomic(ctx, "run1/out.json", data)
//	data, err = fs.ReadFile(ctx, "run1/out.json") // a missing key: storage.IsNotFound(err)
//
// A bucket is opened from a single string that can be
//
//   - a plain local path, absolute or relative ("out", "/data/run1"),
//   - a file:// URL ("file:///data/run1"),
//   - mem:// for an in-process bucket (useful in tests),
//   - a cloud URL: s3://bucket, gs://bucket or azblob://container, with the
//     query parameters documented by the corresponding gocloud driver
//     (for example "s3://bucket?region=us-west-1&prefix=runs/"), once that
//     driver is linked into the binary (below).
//
// Local files and mem:// are built in. Cloud drivers are opt-in, by gocloud's
// own convention of a blank import in the program's main package, so that a
// binary carries only the drivers it uses (the three cloud SDKs are most of a
// fray binary's size otherwise):
//
//	import _ "gocloud.dev/blob/gcsblob"   // gs://
//	import _ "gocloud.dev/blob/s3blob"    // s3://
//	import _ "gocloud.dev/blob/azureblob" // azblob://
//
// fray's own commands link all three when built with -tags cloud. Opening a
// URL whose driver is not linked fails with a *SchemeNotLinkedError that names
// the import to add. Credentials are taken from the environment in the usual
// way for each cloud (AWS_*, GOOGLE_APPLICATION_CREDENTIALS,
// AZURE_STORAGE_ACCOUNT, ...).
//
// Keys are always slash-separated, relative to the bucket root, regardless of
// the operating system. Writes are atomic: a reader either sees the previous
// object (or none) or the complete new one, never a partial file.
package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/gcerrors"

	// The in-memory driver, registered for mem:// URLs; cloud drivers are the
	// program's choice (see the package comment).
	_ "gocloud.dev/blob/memblob"
)

// ErrSchemeNotLinked is matched (via errors.Is) by the error Open returns for a URL
// whose scheme has no blob driver linked into the program.
var ErrSchemeNotLinked = errors.New("storage: no driver linked for this URL scheme")

// cloudDrivers maps the URL schemes of gocloud's cloud drivers to the package a program
// imports to link one.
var cloudDrivers = map[string]string{
	"s3":     "gocloud.dev/blob/s3blob",
	"gs":     "gocloud.dev/blob/gcsblob",
	"azblob": "gocloud.dev/blob/azureblob",
}

// SchemeNotLinkedError reports that URL's Scheme has no driver in this program.
// Import names the package whose blank import links it ("" for a scheme no known
// driver serves). It matches ErrSchemeNotLinked with errors.Is.
type SchemeNotLinkedError struct {
	URL    string
	Scheme string
	Import string
}

// Error implements error, saying what to change.
func (e *SchemeNotLinkedError) Error() string {
	if e.Import == "" {
		return fmt.Sprintf("storage: %s: no blob driver serves scheme %q; use a local path, file://, mem://, gs://, s3:// or azblob://", e.URL, e.Scheme)
	}
	return fmt.Sprintf("storage: %s: the %s:// driver is not linked into this program: add `import _ %q` to its main package (fray's own commands: build with -tags cloud)", e.URL, e.Scheme, e.Import)
}

// Is reports whether target is ErrSchemeNotLinked.
func (e *SchemeNotLinkedError) Is(target error) bool { return target == ErrSchemeNotLinked }

// CheckLinked reports, without opening anything, whether Open could address location in
// this program: nil for local paths, file:// and every scheme with a linked driver, else the
// *SchemeNotLinkedError that Open would return. Programs check their storage flags with it
// before starting work, so a missing driver is one error up front, not one per use.
func CheckLinked(location string) error {
	if _, isLocal, err := localDir(location); err != nil || isLocal {
		return err
	}
	return checkScheme(location)
}

// checkScheme returns a *SchemeNotLinkedError when location's scheme has no driver
// registered with gocloud's default URL mux.
func checkScheme(location string) error {
	scheme, _, _ := strings.Cut(location, "://")
	if blob.DefaultURLMux().ValidBucketScheme(scheme) {
		return nil
	}
	return &SchemeNotLinkedError{URL: location, Scheme: scheme, Import: cloudDrivers[scheme]}
}

// ErrNotFound is the sentinel matched (via errors.Is) by every error this
// package returns for a missing object.
var ErrNotFound = errors.New("storage: object not found")

// NotFoundError reports that Key does not exist in the bucket opened from URL.
// It matches ErrNotFound with errors.Is.
type NotFoundError struct {
	URL string // the bucket URL as given to Open
	Key string // the missing key
	Err error  // the underlying driver error, if any
}

// Error implements error.
func (e *NotFoundError) Error() string {
	return fmt.Sprintf("storage: %s: key %q not found", e.URL, e.Key)
}

// Is reports whether target is ErrNotFound.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// Unwrap returns the underlying driver error.
func (e *NotFoundError) Unwrap() error { return e.Err }

// ErrExists is the sentinel matched (via errors.Is) by the error CreateExclusive
// returns when the key already exists.
var ErrExists = errors.New("storage: object already exists")

// ExistsError reports that CreateExclusive found Key already present in the
// bucket opened from URL. It matches ErrExists with errors.Is.
type ExistsError struct {
	URL string // the bucket URL as given to Open
	Key string // the key that exists
	Err error  // the underlying driver error, if any
}

// Error implements error.
func (e *ExistsError) Error() string {
	return fmt.Sprintf("storage: %s: key %q already exists", e.URL, e.Key)
}

// Is reports whether target is ErrExists.
func (e *ExistsError) Is(target error) bool { return target == ErrExists }

// Unwrap returns the underlying driver error.
func (e *ExistsError) Unwrap() error { return e.Err }

// IsNotFound reports whether err (or anything it wraps) is a not-found error.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// FS is an opened bucket. It is safe for concurrent use.
type FS struct {
	url    string
	local  string // absolute directory for local buckets, "" otherwise
	bucket *blob.Bucket
}

// Attributes describes a stored object.
type Attributes struct {
	Key     string    // key relative to the bucket root
	Size    int64     // size in bytes
	ModTime time.Time // last modification time
}

// Open opens the bucket addressed by location (see the package comment for
// the accepted forms). Local directories are created if they do not exist.
// The caller must Close the returned FS.
func Open(ctx context.Context, location string) (*FS, error) {
	if location == "" {
		return nil, errors.New("storage: empty location")
	}
	dir, isLocal, err := localDir(location)
	if err != nil {
		return nil, err
	}
	if isLocal {
		b, err := fileblob.OpenBucket(dir, &fileblob.Options{
			CreateDir: true,
			// Temporary files live next to their destination ("<key>.<hex>.tmp")
			// so the final rename never crosses a mount point; List hides them.
			NoTempDir: true,
			// No ".attrs" sidecar files: the directory holds exactly the data.
			Metadata: fileblob.MetadataDontWrite,
		})
		if err != nil {
			return nil, fmt.Errorf("storage: open %s: %w", location, err)
		}
		return &FS{url: location, local: dir, bucket: b}, nil
	}
	if err := checkScheme(location); err != nil {
		return nil, err
	}
	b, err := blob.OpenBucket(ctx, location)
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", location, err)
	}
	return &FS{url: location, bucket: b}, nil
}

// localDir reports whether location names a local directory and returns its
// absolute path.
func localDir(location string) (string, bool, error) {
	if strings.HasPrefix(location, "file://") {
		u, err := url.Parse(location)
		if err != nil {
			return "", false, fmt.Errorf("storage: bad URL %q: %w", location, err)
		}
		if u.Host != "" && u.Host != "localhost" {
			return "", false, fmt.Errorf("storage: file URL %q has non-local host %q", location, u.Host)
		}
		if u.Path == "" {
			return "", false, fmt.Errorf("storage: file URL %q has no path", location)
		}
		return filepath.FromSlash(u.Path), true, nil
	}
	if i := strings.Index(location, "://"); i > 0 && !strings.ContainsAny(location[:i], `/\`) {
		return "", false, nil
	}
	abs, err := filepath.Abs(location)
	if err != nil {
		return "", false, fmt.Errorf("storage: %q: %w", location, err)
	}
	return abs, true, nil
}

// URL returns the location FS was opened with.
func (f *FS) URL() string { return f.url }

// LocalDir returns the absolute directory backing a local bucket, or "" for
// remote and in-memory buckets.
func (f *FS) LocalDir() string { return f.local }

// Bucket exposes the underlying gocloud bucket for operations not covered
// here. It is owned by f; do not close it.
func (f *FS) Bucket() *blob.Bucket { return f.bucket }

// Close releases the bucket.
func (f *FS) Close() error { return f.bucket.Close() }

// Join joins key elements with "/" and cleans the result, yielding a key
// relative to the bucket root (no leading slash).
func Join(elem ...string) string {
	p := path.Join(elem...)
	return strings.TrimPrefix(p, "/")
}

// Join is a convenience for the package-level Join.
func (f *FS) Join(elem ...string) string { return Join(elem...) }

func (f *FS) wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	if gcerrors.Code(err) == gcerrors.NotFound {
		return &NotFoundError{URL: f.url, Key: key, Err: err}
	}
	return fmt.Errorf("storage: %s %s/%s: %w", op, f.url, key, err)
}

// NewReader opens key for streaming reads. The caller must close it.
func (f *FS) NewReader(ctx context.Context, key string) (io.ReadCloser, error) {
	r, err := f.bucket.NewReader(ctx, key, nil)
	if err != nil {
		return nil, f.wrap("read", key, err)
	}
	return r, nil
}

// ReadFile returns the full contents of key.
func (f *FS) ReadFile(ctx context.Context, key string) ([]byte, error) {
	b, err := f.bucket.ReadAll(ctx, key)
	if err != nil {
		return nil, f.wrap("read", key, err)
	}
	return b, nil
}

// Writer streams an object into the bucket. Nothing becomes visible under
// the key until Close succeeds; Abort discards everything written.
type Writer struct {
	fs     *FS
	key    string
	w      *blob.Writer
	cancel context.CancelFunc
	done   bool
}

// NewWriter starts an atomic write of key. Call Close to publish the object
// or Abort to discard it; one of them must be called.
func (f *FS) NewWriter(ctx context.Context, key string) (*Writer, error) {
	if key == "" || strings.HasSuffix(key, "/") {
		return nil, fmt.Errorf("storage: invalid key %q", key)
	}
	ctx, cancel := context.WithCancel(ctx)
	w, err := f.bucket.NewWriter(ctx, key, nil)
	if err != nil {
		cancel()
		return nil, f.wrap("write", key, err)
	}
	return &Writer{fs: f, key: key, w: w, cancel: cancel}, nil
}

// Write implements io.Writer.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("storage: write %s after close", w.key)
	}
	n, err := w.w.Write(p)
	return n, w.fs.wrap("write", w.key, err)
}

// Close publishes the object. If it returns an error, the object was not
// (fully) written and any previous version is left in place.
func (w *Writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	defer w.cancel()
	return w.fs.wrap("write", w.key, w.w.Close())
}

// Abort discards the write; the key keeps its previous content, if any.
func (w *Writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.cancel() // gocloud discards a writer whose context is cancelled
	_ = w.w.Close()
	return nil
}

// WriteFileAtomic stores data under key. Readers observe either the old
// content or data, never a partial object.
func (f *FS) WriteFileAtomic(ctx context.Context, key string, data []byte) error {
	w, err := f.NewWriter(ctx, key)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		_ = w.Abort()
		return err
	}
	return w.Close()
}

// CreateExclusive stores data under key only if key does not exist yet; if it
// does, it returns an *ExistsError (errors.Is(err, ErrExists)) and leaves the
// object untouched. Of any number of concurrent callers, in one process or in
// many, exactly one succeeds, and readers never see a partial object.
//
// Cloud buckets use the driver's conditional write (gocloud's
// WriterOptions.IfNotExist: If-None-Match on S3 and Azure, DoesNotExist on
// GCS), and so does mem://, which checks under the bucket's lock. Local
// buckets do not use fileblob's IfNotExist: fileblob checks with a stat and
// then renames, so two processes can both pass the check and the second
// rename silently replaces the first object. Here the data goes to a
// temporary file next to the key ("<key>.<hex>.tmp", the shape List hides and
// RemoveTempFiles removes) that is then hard-linked to the key: link(2) fails
// atomically when the name exists, on every local file system that has hard
// links.
func (f *FS) CreateExclusive(ctx context.Context, key string, data []byte) error {
	if key == "" || strings.HasSuffix(key, "/") {
		return fmt.Errorf("storage: invalid key %q", key)
	}
	if f.local == "" {
		w, err := f.bucket.NewWriter(ctx, key, &blob.WriterOptions{IfNotExist: true})
		if err != nil {
			return f.wrapExclusive(key, err)
		}
		if _, err := w.Write(data); err != nil {
			_ = w.Close()
			return f.wrapExclusive(key, err)
		}
		return f.wrapExclusive(key, w.Close())
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dst := filepath.Join(f.local, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(dst), 0o777); err != nil {
		return fmt.Errorf("storage: create %s/%s: %w", f.url, key, err)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := dst + "." + hex.EncodeToString(rnd[:]) + ".tmp"
	if err := os.WriteFile(tmp, data, 0o666); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("storage: create %s/%s: %w", f.url, key, err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, dst); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return &ExistsError{URL: f.url, Key: key, Err: err}
		}
		return fmt.Errorf("storage: create %s/%s (exclusive create needs hard links on local file systems): %w", f.url, key, err)
	}
	return nil
}

func (f *FS) wrapExclusive(key string, err error) error {
	if err != nil && gcerrors.Code(err) == gcerrors.FailedPrecondition {
		return &ExistsError{URL: f.url, Key: key, Err: err}
	}
	return f.wrap("create", key, err)
}

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

// Exists reports whether key exists.
func (f *FS) Exists(ctx context.Context, key string) (bool, error) {
	ok, err := f.bucket.Exists(ctx, key)
	if err != nil {
		return false, f.wrap("stat", key, err)
	}
	return ok, nil
}

// Stat returns the attributes of key.
func (f *FS) Stat(ctx context.Context, key string) (Attributes, error) {
	a, err := f.bucket.Attributes(ctx, key)
	if err != nil {
		return Attributes{}, f.wrap("stat", key, err)
	}
	return Attributes{Key: key, Size: a.Size, ModTime: a.ModTime}, nil
}

// Delete removes key. Deleting a missing key returns a *NotFoundError.
func (f *FS) Delete(ctx context.Context, key string) error {
	return f.wrap("delete", key, f.bucket.Delete(ctx, key))
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
