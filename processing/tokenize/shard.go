package tokenize

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// shardMagic starts every shard.
const shardMagic = "FRAYTOK\n"

// ShardVersion is the format version written by ShardWriter.
const ShardVersion = 1

// MaxRecordBytes bounds one encoded record payload; larger length prefixes
// are treated as corruption.
const MaxRecordBytes = 1 << 30

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is matched (via errors.Is) by every error ShardReader returns
// for malformed input.
var ErrCorrupt = errors.New("tokenize: corrupt shard")

// ShardWriter writes records in the shard format (see package comment).
// Close flushes but does not close the destination.
type ShardWriter struct {
	bw      *bufio.Writer
	payload []byte
	records int64
	tokens  int64
	err     error
}

// NewShardWriter writes the shard header for encoding to w.
func NewShardWriter(w io.Writer, encoding string) (*ShardWriter, error) {
	sw := &ShardWriter{bw: bufio.NewWriterSize(w, 256<<10)}
	hdr := append([]byte(shardMagic), ShardVersion)
	hdr = binary.AppendUvarint(hdr, uint64(len(encoding)))
	hdr = append(hdr, encoding...)
	hdr = binary.LittleEndian.AppendUint32(hdr, crc32.Checksum(hdr, castagnoli))
	if _, err := sw.bw.Write(hdr); err != nil {
		return nil, err
	}
	return sw, nil
}

// Write appends one record.
func (w *ShardWriter) Write(r Record) error {
	if w.err != nil {
		return w.err
	}
	p := w.payload[:0]
	p = binary.AppendUvarint(p, uint64(len(r.ID)))
	p = append(p, r.ID...)
	p = binary.AppendUvarint(p, uint64(len(r.Tokens)))
	for _, t := range r.Tokens {
		p = binary.AppendUvarint(p, uint64(t))
	}
	if len(p) > MaxRecordBytes {
		return fmt.Errorf("tokenize: record %q is %d bytes, over the %d limit", r.ID, len(p), MaxRecordBytes)
	}
	w.payload = p
	var frame [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(frame[:], uint64(len(p)))
	if _, err := w.bw.Write(frame[:n]); err != nil {
		w.err = err
		return err
	}
	if _, err := w.bw.Write(p); err != nil {
		w.err = err
		return err
	}
	var crc [4]byte
	binary.LittleEndian.PutUint32(crc[:], crc32.Checksum(p, castagnoli))
	if _, err := w.bw.Write(crc[:]); err != nil {
		w.err = err
		return err
	}
	w.records++
	w.tokens += int64(len(r.Tokens))
	return nil
}

// Records returns the number of records written.
func (w *ShardWriter) Records() int64 { return w.records }

// Tokens returns the number of tokens written.
func (w *ShardWriter) Tokens() int64 { return w.tokens }

// Close flushes buffered data.
func (w *ShardWriter) Close() error {
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = err
		return err
	}
	return nil
}

// ShardReader decodes a shard.
type ShardReader struct {
	br       *bufio.Reader
	encoding string
	n        int64
	buf      []byte
	err      error
}

// NewShardReader reads and validates the shard header.
func NewShardReader(r io.Reader) (*ShardReader, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	var hdr [len(shardMagic) + 1]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	if string(hdr[:len(shardMagic)]) != shardMagic {
		return nil, fmt.Errorf("%w: bad magic %q", ErrCorrupt, hdr[:len(shardMagic)])
	}
	if v := hdr[len(shardMagic)]; v != ShardVersion {
		return nil, fmt.Errorf("%w: unsupported version %d", ErrCorrupt, v)
	}
	n, err := binary.ReadUvarint(br)
	if err != nil || n > 64 {
		return nil, fmt.Errorf("%w: bad encoding name length", ErrCorrupt)
	}
	name := make([]byte, n)
	if _, err := io.ReadFull(br, name); err != nil {
		return nil, fmt.Errorf("%w: encoding name: %v", ErrCorrupt, err)
	}
	var crc [4]byte
	if _, err := io.ReadFull(br, crc[:]); err != nil {
		return nil, fmt.Errorf("%w: header checksum: %v", ErrCorrupt, err)
	}
	h := append(binary.AppendUvarint(hdr[:], n), name...)
	if binary.LittleEndian.Uint32(crc[:]) != crc32.Checksum(h, castagnoli) {
		return nil, fmt.Errorf("%w: header checksum mismatch", ErrCorrupt)
	}
	return &ShardReader{br: br, encoding: string(name)}, nil
}

// Encoding returns the encoding name stored in the header.
func (r *ShardReader) Encoding() string { return r.encoding }

// Next returns the next record, io.EOF at a clean end of shard, or an
// error matching ErrCorrupt. Errors are sticky.
func (r *ShardReader) Next() (Record, error) {
	if r.err != nil {
		return Record{}, r.err
	}
	rec, err := r.next()
	if err != nil {
		if err != io.EOF {
			err = fmt.Errorf("%w: record %d: %v", ErrCorrupt, r.n+1, err)
		}
		r.err = err
		return Record{}, err
	}
	r.n++
	return rec, nil
}

func (r *ShardReader) next() (Record, error) {
	size, err := binary.ReadUvarint(r.br)
	if err == io.EOF {
		return Record{}, io.EOF
	}
	if err != nil {
		return Record{}, fmt.Errorf("length: %w", noEOF(err))
	}
	if size > MaxRecordBytes {
		return Record{}, fmt.Errorf("length %d over limit", size)
	}
	// Grow the buffer as bytes actually arrive, so a bogus length cannot
	// force a huge allocation up front.
	r.buf = r.buf[:0]
	for remaining := int(size); remaining > 0; {
		chunk := min(remaining, 1<<20)
		start := len(r.buf)
		r.buf = append(r.buf, make([]byte, chunk)...)
		if _, err := io.ReadFull(r.br, r.buf[start:]); err != nil {
			return Record{}, fmt.Errorf("payload: %w", noEOF(err))
		}
		remaining -= chunk
	}
	var crc [4]byte
	if _, err := io.ReadFull(r.br, crc[:]); err != nil {
		return Record{}, fmt.Errorf("checksum: %w", noEOF(err))
	}
	p := r.buf
	if binary.LittleEndian.Uint32(crc[:]) != crc32.Checksum(p, castagnoli) {
		return Record{}, errors.New("checksum mismatch")
	}
	idLen, k := binary.Uvarint(p)
	if k <= 0 || idLen > uint64(len(p)-k) {
		return Record{}, errors.New("bad id length")
	}
	p = p[k:]
	id := string(p[:idLen])
	p = p[idLen:]
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)-k) {
		return Record{}, errors.New("bad token count")
	}
	p = p[k:]
	toks := make([]uint32, n)
	for i := range toks {
		v, k := binary.Uvarint(p)
		if k <= 0 || v > 1<<32-1 {
			return Record{}, errors.New("bad token id")
		}
		toks[i] = uint32(v)
		p = p[k:]
	}
	if len(p) != 0 {
		return Record{}, errors.New("trailing bytes in record")
	}
	return Record{ID: id, Tokens: toks}, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// RollingWriter spreads records over numbered shards, starting a new shard
// once the current one holds at least MaxTokens tokens. Each shard is
// obtained from create and closed when full (pair it with
// storage.FS.NewWriter for atomic shard files).
type RollingWriter struct {
	encoding  string
	maxTokens int64
	create    func(index int) (io.WriteCloser, error)
	cur       io.WriteCloser
	sw        *ShardWriter
	shards    int
	err       error
}

// NewRollingWriter returns a writer that calls create(0), create(1), ...
// as shards fill up. maxTokens <= 0 means a single shard.
func NewRollingWriter(encoding string, maxTokens int64, create func(index int) (io.WriteCloser, error)) *RollingWriter {
	return &RollingWriter{encoding: encoding, maxTokens: maxTokens, create: create}
}

// Write appends r to the current shard, opening one if needed.
func (w *RollingWriter) Write(r Record) error {
	if w.err != nil {
		return w.err
	}
	if w.sw == nil {
		dst, err := w.create(w.shards)
		if err != nil {
			w.err = fmt.Errorf("tokenize: create shard %d: %w", w.shards, err)
			return w.err
		}
		sw, err := NewShardWriter(dst, w.encoding)
		if err != nil {
			dst.Close()
			w.err = err
			return err
		}
		w.cur, w.sw = dst, sw
		w.shards++
	}
	if err := w.sw.Write(r); err != nil {
		w.err = err
		return err
	}
	if w.maxTokens > 0 && w.sw.Tokens() >= w.maxTokens {
		return w.finish()
	}
	return nil
}

func (w *RollingWriter) finish() error {
	if w.sw == nil {
		return nil
	}
	err := w.sw.Close()
	if cerr := w.cur.Close(); err == nil {
		err = cerr
	}
	w.sw, w.cur = nil, nil
	if err != nil {
		w.err = err
	}
	return err
}

// Shards returns the number of shards opened so far.
func (w *RollingWriter) Shards() int { return w.shards }

// Close finishes the current shard.
func (w *RollingWriter) Close() error {
	if w.err != nil {
		return w.err
	}
	return w.finish()
}
