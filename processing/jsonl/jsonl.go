// Package jsonl streams JSON Lines (one JSON value per line) with optional
// whole-stream compression chosen from the file name: ".gz" (gzip), ".zst"
// (zstandard) or anything else (plain).
//
//	w, err := jsonl.NewWriter[Doc](file, jsonl.CompressionFor("docs.jsonl.zst"))
//	err = w.Write(Doc{ID: "1", Text: "hello"})
//	err = w.Close()
//
//	r, err := jsonl.NewReader[Doc](input, jsonl.Options{Name: "docs.jsonl.zst"})
//	for doc, err := range r.All() { ... }
//
// Readers and writers work over plain io.Reader / io.Writer, so they compose
// with any storage backend (local files, blob buckets, network streams).
// Records are generic: Reader[map[string]any] for schemaless data, or
// Reader[MyStruct] for typed decoding.
//
// Lines are bounded (DefaultMaxLineBytes unless overridden) so a corrupt or
// hostile input cannot make a reader allocate without limit. Every decoding
// error is a *LineError naming the input and the 1-based line number.
package jsonl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"

	"github.com/fray-go/fray/processing/internal/zstdpool"
	"github.com/klauspost/compress/gzip"
)

// Record is a schemaless JSONL record.
type Record = map[string]any

// DefaultMaxLineBytes bounds the length of one line (excluding the newline)
// when Options.MaxLineBytes is zero.
const DefaultMaxLineBytes = 64 << 20

// Compression selects the stream codec.
type Compression int

const (
	// None is uncompressed JSONL.
	None Compression = iota
	// Gzip is a gzip stream (RFC 1952), extension ".gz".
	Gzip
	// Zstd is a zstandard stream, extension ".zst".
	Zstd
)

// String returns the codec name.
func (c Compression) String() string {
	switch c {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// CompressionFor picks the codec from a file name or key by its extension
// (case-insensitive): ".gz" → Gzip, ".zst" or ".zstd" → Zstd, else None.
func CompressionFor(name string) Compression {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, ".gz"):
		return Gzip
	case strings.HasSuffix(n, ".zst"), strings.HasSuffix(n, ".zstd"):
		return Zstd
	}
	return None
}

// ErrLineTooLong is matched (via errors.Is) by the *LineError returned for a
// line longer than the configured maximum.
var ErrLineTooLong = errors.New("jsonl: line too long")

// LineError describes a failure at a specific line of a named input.
type LineError struct {
	Name string // input name as given in Options.Name ("" if none)
	Line int    // 1-based line number
	Err  error  // underlying cause (decode, read or ErrLineTooLong)
}

// Error implements error.
func (e *LineError) Error() string {
	name := e.Name
	if name == "" {
		name = "<input>"
	}
	return fmt.Sprintf("%s:%d: %v", name, e.Line, e.Err)
}

// Unwrap returns the underlying error.
func (e *LineError) Unwrap() error { return e.Err }

// Options configures a Reader.
type Options struct {
	// Name identifies the input in errors; if Compression is nil it also
	// selects the codec via CompressionFor.
	Name string
	// Compression overrides the codec derived from Name.
	Compression *Compression
	// MaxLineBytes bounds a single line; 0 means DefaultMaxLineBytes.
	MaxLineBytes int
	// UseNumber decodes numbers into json.Number instead of float64 (only
	// relevant for interface-typed fields such as map[string]any values).
	UseNumber bool
	// DisallowUnknownFields rejects object keys that do not map to a struct
	// field of T.
	DisallowUnknownFields bool
}

func (o Options) codec() Compression {
	if o.Compression != nil {
		return *o.Compression
	}
	return CompressionFor(o.Name)
}

// Reader decodes one T per non-blank line. Blank lines (only whitespace)
// are skipped but counted, so line numbers match the file.
type Reader[T any] struct {
	opts   Options
	br     *bufio.Reader
	closer func()
	line   int
	buf    []byte
	err    error
}

// NewReader wraps r. It fails only if the compressed stream header is
// invalid. Close releases decompressor resources but does not close r.
func NewReader[T any](r io.Reader, opts Options) (*Reader[T], error) {
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = DefaultMaxLineBytes
	}
	rd := &Reader[T]{opts: opts, closer: func() {}}
	var src io.Reader = r
	switch c := opts.codec(); c {
	case None:
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, &LineError{Name: opts.Name, Line: 0, Err: fmt.Errorf("gzip header: %w", err)}
		}
		src = zr
		rd.closer = func() { zr.Close() }
	case Zstd:
		zr, err := zstdpool.NewReader(r)
		if err != nil {
			return nil, &LineError{Name: opts.Name, Err: fmt.Errorf("zstd: %w", err)}
		}
		src = zr
		rd.closer = func() { zr.Close() }
	default:
		return nil, fmt.Errorf("jsonl: unknown compression %v", c)
	}
	rd.br = bufio.NewReaderSize(src, 64<<10)
	return rd, nil
}

// Line returns the number of the last line read (1-based; 0 before the
// first call to Next).
func (r *Reader[T]) Line() int { return r.line }

// readLine returns the next line without its terminator, enforcing the
// length bound without buffering more than MaxLineBytes+bufsize.
func (r *Reader[T]) readLine() ([]byte, error) {
	r.buf = r.buf[:0]
	tooLong := false
	for {
		chunk, err := r.br.ReadSlice('\n')
		if !tooLong {
			if len(r.buf)+len(chunk) > r.opts.MaxLineBytes+2 { // allow "\r\n"
				tooLong = true
				r.buf = r.buf[:0]
			} else {
				r.buf = append(r.buf, chunk...)
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF:
			if len(r.buf) == 0 && !tooLong {
				return nil, io.EOF
			}
		case err != nil:
			return nil, err
		}
		line := bytes.TrimSuffix(bytes.TrimSuffix(r.buf, []byte("\n")), []byte("\r"))
		if tooLong || len(line) > r.opts.MaxLineBytes {
			return nil, fmt.Errorf("%w (limit %d bytes)", ErrLineTooLong, r.opts.MaxLineBytes)
		}
		return line, nil
	}
}

// Next decodes the next record. It returns io.EOF after the last record;
// any other error is a *LineError (or a read error of the underlying
// stream, also wrapped in *LineError) and is sticky.
func (r *Reader[T]) Next() (T, error) {
	var zero T
	if r.err != nil {
		return zero, r.err
	}
	for {
		line, err := r.readLine()
		if err == io.EOF {
			r.err = io.EOF
			return zero, io.EOF
		}
		r.line++
		if err != nil {
			r.err = &LineError{Name: r.opts.Name, Line: r.line, Err: err}
			return zero, r.err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var v T
		if !r.opts.UseNumber && !r.opts.DisallowUnknownFields {
			if err := json.Unmarshal(line, &v); err != nil {
				r.err = &LineError{Name: r.opts.Name, Line: r.line, Err: err}
				return zero, r.err
			}
			return v, nil
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		if r.opts.UseNumber {
			dec.UseNumber()
		}
		if r.opts.DisallowUnknownFields {
			dec.DisallowUnknownFields()
		}
		if err := dec.Decode(&v); err != nil {
			r.err = &LineError{Name: r.opts.Name, Line: r.line, Err: err}
			return zero, r.err
		}
		if dec.More() || trailing(dec) {
			r.err = &LineError{Name: r.opts.Name, Line: r.line, Err: errors.New("trailing data after JSON value")}
			return zero, r.err
		}
		return v, nil
	}
}

// trailing reports whether non-whitespace remains in dec's input.
func trailing(dec *json.Decoder) bool {
	rest, _ := io.ReadAll(dec.Buffered())
	return len(bytes.TrimSpace(rest)) != 0
}

// All iterates over the remaining records. Iteration stops after the first
// error, which is yielded with a zero T; io.EOF is not yielded.
func (r *Reader[T]) All() iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			v, err := r.Next()
			if err == io.EOF {
				return
			}
			if !yield(v, err) || err != nil {
				return
			}
		}
	}
}

// Close releases decompressor resources. It does not close the source.
func (r *Reader[T]) Close() error {
	r.closer()
	r.closer = func() {}
	if r.err == nil {
		r.err = errors.New("jsonl: reader closed")
	}
	return nil
}

// ReadAll decodes every record of r.
func ReadAll[T any](r io.Reader, opts Options) ([]T, error) {
	rd, err := NewReader[T](r, opts)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	var out []T
	for v, err := range rd.All() {
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Writer encodes one T per line. Close must be called to flush buffered
// and compressed data; it does not close the destination.
type Writer[T any] struct {
	bw    *bufio.Writer
	zc    io.WriteCloser // compressor, nil for None
	enc   *json.Encoder
	count int64
	err   error
}

// NewWriter writes records to w with the given compression (see
// CompressionFor). HTML characters are not escaped.
func NewWriter[T any](w io.Writer, c Compression) (*Writer[T], error) {
	wr := &Writer[T]{}
	var dst = w
	switch c {
	case None:
	case Gzip:
		wr.zc = gzip.NewWriter(w)
	case Zstd:
		zw, err := zstdpool.NewWriter(w)
		if err != nil {
			return nil, fmt.Errorf("jsonl: zstd: %w", err)
		}
		wr.zc = zw
	default:
		return nil, fmt.Errorf("jsonl: unknown compression %v", c)
	}
	if wr.zc != nil {
		dst = wr.zc
	}
	wr.bw = bufio.NewWriterSize(dst, 64<<10)
	wr.enc = json.NewEncoder(wr.bw)
	wr.enc.SetEscapeHTML(false)
	return wr, nil
}

// Write appends one record (json.Encoder terminates it with "\n").
func (w *Writer[T]) Write(v T) error {
	if w.err != nil {
		return w.err
	}
	if err := w.enc.Encode(v); err != nil {
		// A value that cannot be encoded writes nothing; the stream stays
		// valid, so this error is not sticky.
		var ue *json.UnsupportedValueError
		var te *json.UnsupportedTypeError
		var me *json.MarshalerError
		if errors.As(err, &ue) || errors.As(err, &te) || errors.As(err, &me) {
			return fmt.Errorf("jsonl: record %d: %w", w.count+1, err)
		}
		w.err = err
		return err
	}
	w.count++
	return nil
}

// Count returns the number of records written.
func (w *Writer[T]) Count() int64 { return w.count }

// Close flushes all data and finalizes the compressed stream.
func (w *Writer[T]) Close() error {
	if w.err != nil && w.err != errWriterClosed {
		return w.err
	}
	if w.err == errWriterClosed {
		return nil
	}
	err := w.bw.Flush()
	if w.zc != nil {
		if cerr := w.zc.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		w.err = err
		return err
	}
	w.err = errWriterClosed
	return nil
}

var errWriterClosed = errors.New("jsonl: writer closed")
