package shards

import (
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
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
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<31))
		if err != nil {
			return nil, fmt.Errorf("shards: %s: zstd: %w", name, err)
		}
		return zstdReadCloser{zr}, nil
	}
	return io.NopCloser(r), nil
}

type zstdReadCloser struct{ *zstd.Decoder }

func (z zstdReadCloser) Close() error { z.Decoder.Close(); return nil }

// compress wraps w according to name's extension. Close finishes the compressed stream; it
// does not close w.
func compress(w io.Writer, name string) (io.WriteCloser, error) {
	_, _, comp := splitName(name)
	switch strings.ToLower(comp) {
	case ".gz":
		return gzip.NewWriter(w), nil
	case ".zst", ".zstd":
		zw, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("shards: %s: zstd: %w", name, err)
		}
		return zw, nil
	}
	return nopWriteCloser{w}, nil
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
