// Package wire is fray's framed protocol between a parent (the local backend's process pool,
// or the Python shim inside a Ray worker) and a worker process (the same Go binary in worker
// mode). It runs over a pair of inherited pipes; nothing listens on a port.
//
//	out := wire.AppendFrame(nil, typ, requestID, body) // body from wire.EncodeBody(msg)
//	_, err := w.Write(out)
//
//	r := wire.NewReader(pipe, wire.DefaultMaxFrame)
//	f, err := r.Read() // a *wire.FrameError (matching wire.ErrMalformed) for bad input
//
// A frame is
//
//	uint32 big-endian N | uint8 type | uint64 big-endian request id | CBOR body (N-9 bytes)
//
// where N counts everything after the length prefix and is bounded by a maximum frame size
// (DefaultMaxFrame unless configured). The body is a CBOR map with short text keys; user
// values inside it are opaque byte strings produced by fray.Marshal, and errors are byte
// strings produced by fray.EncodeError. PROTOCOL.md in this directory is the normative
// description, written so that a second implementation (the Python shim) can follow it.
package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// Version is the protocol version carried in Hello. A worker refuses a Hello of another
// version.
const Version = 1

// DefaultMaxFrame is the default bound on N, the byte count after a frame's length prefix.
const DefaultMaxFrame = 64 << 20

// MinMaxFrame is the smallest maximum frame size a side may configure.
const MinMaxFrame = 4 << 10

// headerLen is type (1) + request id (8): the smallest valid N.
const headerLen = 9

// sizeOnce is the largest frame body a reader allocates in full from its length prefix
// alone, so a length prefix that lies costs at most this much memory before the stream runs
// dry. A longer body gets a sizeOnce buffer first and, once those bytes have arrived, one
// buffer of its full length: at most one copy of sizeOnce bytes, never a doubling series.
const sizeOnce = 2 << 20

// ErrFrameTooLarge is matched (errors.Is) by every error about a frame over the limit.
var ErrFrameTooLarge = errors.New("wire: frame too large")

// ErrMalformed is matched by every error about bytes that are not a valid frame or body.
var ErrMalformed = errors.New("wire: malformed frame")

// FrameError describes a frame that could not be read or written.
type FrameError struct {
	Op     string // "read" or "write"
	Reason string
	kind   error // ErrFrameTooLarge or ErrMalformed
}

func (e *FrameError) Error() string { return "wire: " + e.Op + ": " + e.Reason }

// Is matches ErrFrameTooLarge or ErrMalformed.
func (e *FrameError) Is(target error) bool { return target == e.kind }

func tooLarge(op string, n uint64, max int) error {
	return &FrameError{Op: op, kind: ErrFrameTooLarge,
		Reason: fmt.Sprintf("frame of %d bytes exceeds the %d-byte limit; pass large values through storage and send their paths, or raise the worker's max frame size", n, max)}
}

func malformed(op, format string, args ...any) error {
	return &FrameError{Op: op, kind: ErrMalformed, Reason: fmt.Sprintf(format, args...)}
}

// Frame is one decoded frame. Body is the raw CBOR map; decode it with DecodeBody into the
// struct that Type calls for.
type Frame struct {
	Type Type
	ID   uint64
	Body []byte
}

// clampMax turns a configured maximum into a usable one.
func clampMax(max int) int {
	if max <= 0 {
		return DefaultMaxFrame
	}
	if max < MinMaxFrame {
		return MinMaxFrame
	}
	if uint64(max) > math.MaxUint32 {
		return math.MaxUint32
	}
	return max
}

// Reader reads frames from a stream. It is not safe for concurrent use; one goroutine reads.
type Reader struct {
	r   *bufio.Reader
	max int
}

// NewReader returns a Reader enforcing max as the bound on N (0 means DefaultMaxFrame).
func NewReader(r io.Reader, max int) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), max: clampMax(max)}
}

// SetMax changes the bound on N for subsequent frames.
func (r *Reader) SetMax(max int) { r.max = clampMax(max) }

// Max returns the bound on N.
func (r *Reader) Max() int { return r.max }

// Read returns the next frame. At a clean end of stream (no byte of a new frame read) it
// returns io.EOF; a stream ending inside a frame is io.ErrUnexpectedEOF. A length over the
// limit is an ErrFrameTooLarge error, reported before anything is allocated for the frame;
// after such an error the stream is out of sync and must be abandoned.
func (r *Reader) Read() (Frame, error) {
	return readFrame(r.r, r.max)
}

// ReadFrame reads one frame from r, enforcing max (0 means DefaultMaxFrame).
func ReadFrame(r io.Reader, max int) (Frame, error) {
	return readFrame(r, clampMax(max))
}

func readFrame(r io.Reader, max int) (Frame, error) {
	var hdr [4 + headerLen]byte
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		return Frame{}, err // io.EOF when clean, io.ErrUnexpectedEOF when cut
	}
	n := uint64(binary.BigEndian.Uint32(hdr[:4]))
	if n > uint64(max) {
		return Frame{}, tooLarge("read", n, max)
	}
	if n < headerLen {
		return Frame{}, malformed("read", "frame length %d is shorter than the %d-byte type and request id", n, headerLen)
	}
	if _, err := io.ReadFull(r, hdr[4:]); err != nil {
		return Frame{}, unexpected(err)
	}
	f := Frame{Type: Type(hdr[4]), ID: binary.BigEndian.Uint64(hdr[5:])}
	bodyLen := int(n) - headerLen
	body, err := readBounded(r, bodyLen)
	if err != nil {
		return Frame{}, err
	}
	f.Body = body
	return f, nil
}

// readBounded reads exactly n bytes into one buffer of length n (see sizeOnce).
func readBounded(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, min(n, sizeOnce))
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, unexpected(err)
	}
	if n == len(buf) {
		return buf, nil
	}
	// The first sizeOnce bytes arrived, so the sender is really sending a long frame.
	full := make([]byte, n)
	copy(full, buf)
	if _, err := io.ReadFull(r, full[len(buf):]); err != nil {
		return nil, unexpected(err)
	}
	return full, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// AppendFrame appends the encoding of one frame with the given raw body to dst.
func AppendFrame(dst []byte, t Type, id uint64, body []byte) []byte {
	var hdr [4 + headerLen]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(headerLen+len(body)))
	hdr[4] = byte(t)
	binary.BigEndian.PutUint64(hdr[5:], id)
	dst = append(dst, hdr[:]...)
	return append(dst, body...)
}

// Writer writes frames to a stream. It is safe for concurrent use: each frame is written
// whole, under a lock, and flushed.
type Writer struct {
	mu  sync.Mutex
	w   *bufio.Writer
	max int
	err error // sticky write error
}

// NewWriter returns a Writer refusing frames whose N exceeds max (0 means DefaultMaxFrame).
func NewWriter(w io.Writer, max int) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 64<<10), max: clampMax(max)}
}

// SetMax changes the bound on N for subsequent frames.
func (w *Writer) SetMax(max int) {
	w.mu.Lock()
	w.max = clampMax(max)
	w.mu.Unlock()
}

// Write encodes body (a message struct, or nil for an empty map) and writes one frame.
// A frame over the limit is an ErrFrameTooLarge error and nothing is written.
func (w *Writer) Write(t Type, id uint64, body any) error {
	b, err := EncodeBody(body)
	if err != nil {
		return err
	}
	return w.WriteRaw(t, id, b)
}

// WriteRaw writes one frame whose body is already CBOR.
func (w *Writer) WriteRaw(t Type, id uint64, body []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writeLocked(t, id, body, nil)
}

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.EncOptions{Sort: cbor.SortNone}.EncMode()
	if err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		MaxNestedLevels:  32,
		MaxArrayElements: 1 << 24,
		MaxMapPairs:      1 << 24,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthAllowed,
		DefaultMapType:   nil,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// emptyMap is the CBOR encoding of {}.
var emptyMap = []byte{0xa0}

// EncodeBody encodes a message body; nil encodes as an empty map.
func EncodeBody(v any) ([]byte, error) {
	if v == nil {
		return emptyMap, nil
	}
	b, err := encMode.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("wire: encode %T: %w", v, err)
	}
	return b, nil
}

// DecodeBody decodes a frame body into v, a pointer to the message struct its type calls
// for. Unknown keys are ignored (so later protocol revisions can add keys); an empty body
// is an empty map. Malformed CBOR is an ErrMalformed error.
func DecodeBody(body []byte, v any) error {
	if len(body) == 0 {
		return nil
	}
	if err := decMode.Unmarshal(body, v); err != nil {
		return &FrameError{Op: "read", kind: ErrMalformed, Reason: fmt.Sprintf("body of %T: %v", v, err)}
	}
	return nil
}

// Decode decodes f's body into v (see DecodeBody).
func (f Frame) Decode(v any) error { return DecodeBody(f.Body, v) }
