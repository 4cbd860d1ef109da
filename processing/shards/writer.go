package shards

import (
	"context"
	"fmt"
	"strings"

	"github.com/fray-go/fray/processing/jsonl"
	"github.com/fray-go/fray/storage"
)

// Writer writes records as JSON Lines into numbered shards in a directory (the input side
// of a sharded pipeline): a shard is published atomically once it holds PerShard records,
// and the last one at Close, so a reader never sees a partial shard.
type Writer[T any] struct {
	ctx      context.Context
	fs       *storage.FS
	release  func()
	loc      location
	pattern  string
	perShard int

	w       *storage.Writer
	jw      *jsonl.Writer[T]
	inShard int
	count   int64
	shards  []string
	closed  bool
}

// NewWriter starts writing shards into output (a directory or bucket URL). pattern names
// the shards with one integer verb, e.g. "docs-%05d.jsonl.zst"; its extension picks the
// compression. perShard is the number of records per shard (at least 1).
func NewWriter[T any](ctx context.Context, output, pattern string, perShard int) (*Writer[T], error) {
	if perShard < 1 {
		return nil, fmt.Errorf("shards: NewWriter: perShard must be at least 1, got %d", perShard)
	}
	if strings.Count(pattern, "%") != 1 || strings.Contains(pattern, "/") {
		return nil, fmt.Errorf("shards: NewWriter: pattern %q must be a file name with exactly one integer verb, such as \"docs-%%05d.jsonl.zst\"", pattern)
	}
	if s := fmt.Sprintf(pattern, 0); strings.Contains(s, "%!") {
		return nil, fmt.Errorf("shards: NewWriter: pattern %q must have exactly one integer verb, such as %%05d", pattern)
	}
	loc, err := parseOutput(output)
	if err != nil {
		return nil, err
	}
	fs, release, err := openFS(ctx, loc.Bucket)
	if err != nil {
		return nil, err
	}
	return &Writer[T]{ctx: ctx, fs: fs, release: release, loc: loc, pattern: pattern, perShard: perShard}, nil
}

// Write appends a record, starting a new shard when the current one is full.
func (w *Writer[T]) Write(v T) error {
	if w.closed {
		return fmt.Errorf("shards: Writer: write after Close")
	}
	if w.jw == nil {
		key := w.loc.key(fmt.Sprintf(w.pattern, len(w.shards)))
		sw, err := w.fs.NewWriter(w.ctx, key)
		if err != nil {
			return err
		}
		jw, err := jsonl.NewWriter[T](sw, jsonl.CompressionFor(key))
		if err != nil {
			_ = sw.Abort()
			return err
		}
		w.w, w.jw = sw, jw
		w.shards = append(w.shards, w.loc.display(key))
	}
	if err := w.jw.Write(v); err != nil {
		return err
	}
	w.count++
	w.inShard++
	if w.inShard >= w.perShard {
		return w.publish()
	}
	return nil
}

func (w *Writer[T]) publish() error {
	jw, sw := w.jw, w.w
	w.jw, w.w, w.inShard = nil, nil, 0
	if err := jw.Close(); err != nil {
		_ = sw.Abort()
		return err
	}
	return sw.Close()
}

// Close publishes the last shard and releases the bucket. Writing no record at all writes no
// shard.
func (w *Writer[T]) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	defer w.release()
	if w.jw != nil {
		return w.publish()
	}
	return nil
}

// Abort discards the shard being written (published shards stay) and releases the bucket.
func (w *Writer[T]) Abort() {
	if w.closed {
		return
	}
	w.closed = true
	if w.w != nil {
		_ = w.w.Abort()
		w.shards = w.shards[:len(w.shards)-1]
	}
	w.release()
}

// Shards returns the paths or URLs of the shards written so far.
func (w *Writer[T]) Shards() []string { return append([]string(nil), w.shards...) }

// Count returns the number of records written.
func (w *Writer[T]) Count() int64 { return w.count }
