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
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/gcerrors"

	// The in-memory driver, registered for mem:// URLs; cloud drivers are the
	// program's choice (see the package comment).
	_ "gocloud.dev/blob/memblob"
)

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
