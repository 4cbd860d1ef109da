package quality

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// Model file format (all integers little-endian):
//
//	magic   "FRAYQLM\n"  8 bytes
//	version u32          = ModelVersion
//	bits    u32          feature-space exponent, 1..30
//	bias    f64
//	nnz     u32          number of non-zero weights
//	nnz × { index u32 (strictly increasing, < 2^bits), weight f32 (finite) }
//	crc     u32          CRC-32C (Castagnoli) of every preceding byte
//
// Only non-zero weights are stored, so a model trained on a small corpus
// is far smaller than the dense 2^bits table.
const modelMagic = "FRAYQLM\n"

// ModelVersion is the model file format version written by Save.
const ModelVersion = 1

// ErrBadModel is matched (via errors.Is) by every error Load returns for
// malformed, truncated, corrupted or unsupported model data.
var ErrBadModel = errors.New("quality: bad model file")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Save writes m in the binary model format.
func (m *Model) Save(w io.Writer) error {
	if m.Bits < 1 || m.Bits > 30 || len(m.Weights) != 1<<m.Bits {
		return fmt.Errorf("quality: invalid model (bits=%d, %d weights)", m.Bits, len(m.Weights))
	}
	var nnz uint32
	for _, x := range m.Weights {
		if x != 0 {
			nnz++
		}
	}
	buf := make([]byte, 0, 28+8*int(nnz)+4)
	buf = append(buf, modelMagic...)
	buf = binary.LittleEndian.AppendUint32(buf, ModelVersion)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(m.Bits))
	buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(m.Bias))
	buf = binary.LittleEndian.AppendUint32(buf, nnz)
	for i, x := range m.Weights {
		if x != 0 {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(i))
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
		}
	}
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli))
	_, err := w.Write(buf)
	return err
}

// Load reads a model written by Save. Any deviation from the format yields
// an error matching ErrBadModel.
func Load(r io.Reader) (*Model, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrBadModel, fmt.Sprintf(format, a...))
	}
	const headLen = 8 + 4 + 4 + 8 + 4
	head := make([]byte, headLen)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, bad("header: %v", err)
	}
	if string(head[:8]) != modelMagic {
		return nil, bad("not a model file (magic %q)", head[:8])
	}
	if v := binary.LittleEndian.Uint32(head[8:]); v != ModelVersion {
		return nil, bad("unsupported version %d (want %d)", v, ModelVersion)
	}
	bits := binary.LittleEndian.Uint32(head[12:])
	if bits < 1 || bits > 30 {
		return nil, bad("bits %d out of range", bits)
	}
	bias := math.Float64frombits(binary.LittleEndian.Uint64(head[16:]))
	if math.IsNaN(bias) || math.IsInf(bias, 0) {
		return nil, bad("non-finite bias")
	}
	nnz := binary.LittleEndian.Uint32(head[24:])
	if uint64(nnz) > 1<<bits {
		return nil, bad("%d non-zero weights exceed 2^%d", nnz, bits)
	}
	// Read the body through a LimitReader so a lying nnz cannot force a
	// large allocation before the data exists.
	var body bytes.Buffer
	want := int64(nnz)*8 + 4
	if n, err := io.Copy(&body, io.LimitReader(r, want)); err != nil || n != want {
		return nil, bad("truncated body (%d of %d bytes): %v", n, want, err)
	}
	b := body.Bytes()
	crc := crc32.Update(crc32.Checksum(head, castagnoli), castagnoli, b[:len(b)-4])
	if crc != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, bad("checksum mismatch")
	}
	m := &Model{Bits: int(bits), Bias: bias, Weights: make([]float32, 1<<bits)}
	last := int64(-1)
	for i := 0; i < int(nnz); i++ {
		idx := binary.LittleEndian.Uint32(b[8*i:])
		x := math.Float32frombits(binary.LittleEndian.Uint32(b[8*i+4:]))
		if int64(idx) <= last || uint64(idx) >= 1<<bits {
			return nil, bad("weight index %d out of order or range", idx)
		}
		if x == 0 || math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, bad("invalid weight at index %d", idx)
		}
		m.Weights[idx] = x
		last = int64(idx)
	}
	return m, nil
}
