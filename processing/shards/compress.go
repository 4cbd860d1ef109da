package shards

import (
	"fmt"
	"io"
	"strings"

	"github.com/fray-go/fray/processing/internal/zstdpool"
	"github.com/klauspost/compress/gzip"
)

// The codecs follow processing/jsonl: chosen by the file name's extension, ".gz" for gzip,
// ".zst" or ".zstd" for zstandard, anything else plain.

// decompress wraps r according to name's extension. Close releases the decompressor; it
// does not close r.
func decompress(r io.Reader, name string) (io.ReadCloser, error) {
	_, _, comp := splitName(name)
	switch strings.ToLower(comp) {
	case ".gz":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("shards: %s: gzip header: %w", name, err)
		}
		return zr, nil
	case ".zst", ".zstd":
		zr, err := zstdpool.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("shards: %s: zstd: %w", name, err)
		}
		return zr, nil
	}
	return io.NopCloser(r), nil
}

// compress wraps w according to name's extension. Close finishes the compressed stream; it
// does not close w.
func compress(w io.Writer, name string) (io.WriteCloser, error) {
	_, _, comp := splitName(name)
	switch strings.ToLower(comp) {
	case ".gz":
		return gzip.NewWriter(w), nil
	case ".zst", ".zstd":
		zw, err := zstdpool.NewWriter(w)
		if err != nil {
			return nil, fmt.Errorf("shards: %s: zstd: %w", name, err)
		}
		return zw, nil
	}
	return nopWriteCloser{w}, nil
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
