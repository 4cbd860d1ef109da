// Package zstdpool reuses zstd encoders and decoders across streams for processing/jsonl
// and processing/shards: making one allocates and clears its tables and windows
// (megabytes), which for a shard of a few hundred kilobytes costs more than the
// compression itself.
package zstdpool

import (
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// MaxDecoderMemory bounds what one decoder may allocate for a frame's window (a malformed
// or hostile header cannot make it take more).
const MaxDecoderMemory = 1 << 31

var (
	encoders sync.Pool // *zstd.Encoder, Reset for each stream
	decoders sync.Pool // *zstd.Decoder, Reset for each stream
)

// NewWriter returns a single-threaded zstd stream writing to w. Its Close finishes the
// stream (it does not close w) and returns the encoder to the pool: do not use it after.
func NewWriter(w io.Writer) (io.WriteCloser, error) {
	if e, ok := encoders.Get().(*zstd.Encoder); ok {
		e.Reset(w)
		return pooledEncoder{e}, nil
	}
	e, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	return pooledEncoder{e}, nil
}

type pooledEncoder struct{ *zstd.Encoder }

func (p pooledEncoder) Close() error {
	err := p.Encoder.Close()
	p.Encoder.Reset(nil) // drop the destination, keep the tables
	encoders.Put(p.Encoder)
	return err
}

// NewReader returns a single-threaded zstd stream reading from r. Its Close returns the
// decoder to the pool (it does not close r): do not use it after.
func NewReader(r io.Reader) (io.ReadCloser, error) {
	if d, ok := decoders.Get().(*zstd.Decoder); ok {
		if err := d.Reset(r); err != nil {
			decoders.Put(d)
			return nil, err
		}
		return pooledDecoder{d}, nil
	}
	d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxDecoderMemory))
	if err != nil {
		return nil, err
	}
	return pooledDecoder{d}, nil
}

type pooledDecoder struct{ *zstd.Decoder }

func (p pooledDecoder) Close() error {
	if err := p.Decoder.Reset(nil); err != nil {
		p.Decoder.Close() // not reusable
		return nil
	}
	decoders.Put(p.Decoder)
	return nil
}
