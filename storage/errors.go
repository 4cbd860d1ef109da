package storage

import (
	"errors"
	"fmt"
	"strings"

	"gocloud.dev/blob"
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
