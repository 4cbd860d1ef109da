package ray

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/fray-go/fray/internal/wire"
)

// The bridge's side of internal/wire's framing, tuned for large values: a Put's value is
// written straight from the caller's buffer (no CBOR re-encoding copy of it), a frame's
// body is allocated once, and a Get's answer is decoded without copying the values out.
// Every frame is still exactly internal/wire's (PROTOCOL.md).

// frameHeaderLen is the length prefix (4), type (1) and request id (8).
const frameHeaderLen = 13

// inlineLimit is the size up to which a frame is assembled in one buffer and written with
// one system call; larger values are written from their own buffer after the header.
const inlineLimit = 64 << 10

// frameWriter writes whole frames to the bridge's input pipe; safe for concurrent use.
type frameWriter struct {
	mu  sync.Mutex
	f   *os.File
	max int
	buf []byte
	err error // sticky
}

func newFrameWriter(f *os.File, max int) *frameWriter {
	return &frameWriter{f: f, max: max}
}

// write encodes body with internal/wire's encoder and writes one frame.
func (w *frameWriter) write(t wire.Type, id uint64, body any) error {
	b, err := wire.EncodeBody(body)
	if err != nil {
		return err
	}
	return w.writeParts(t, id, b, nil)
}

// writeParts writes one frame whose body is head followed by data.
func (w *frameWriter) writeParts(t wire.Type, id uint64, head, data []byte) error {
	n := uint64(9 + len(head) + len(data))
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if n > uint64(w.max) {
		return fmt.Errorf("%w: frame of %d bytes exceeds the %d-byte limit; write large data to storage and pass its path", wire.ErrFrameTooLarge, n, w.max)
	}
	buf := w.buf[:0]
	buf = binary.BigEndian.AppendUint32(buf, uint32(n))
	buf = append(buf, byte(t))
	buf = binary.BigEndian.AppendUint64(buf, id)
	buf = append(buf, head...)
	inline := len(data) <= inlineLimit
	if inline {
		buf = append(buf, data...)
	}
	_, err := w.f.Write(buf)
	if cap(buf) <= 4*inlineLimit {
		w.buf = buf[:0]
	}
	if err == nil && !inline {
		_, err = w.f.Write(data)
	}
	if err != nil {
		w.err = err
	}
	return err
}

// frameReader reads frames from the bridge's output pipe; one goroutine reads.
type frameReader struct {
	r   *bufio.Reader
	max int
}

func newFrameReader(r io.Reader, max int) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// readAhead bounds how much the reader allocates for a frame before its bytes arrive.
const readAhead = 16 << 20

// read returns the next frame; io.EOF at a clean end of stream.
func (r *frameReader) read() (wire.Frame, error) {
	var hdr [frameHeaderLen]byte
	if _, err := io.ReadFull(r.r, hdr[:4]); err != nil {
		return wire.Frame{}, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:4]))
	if n > r.max {
		return wire.Frame{}, fmt.Errorf("%w: the bridge sent a frame of %d bytes, over the %d-byte limit", wire.ErrFrameTooLarge, n, r.max)
	}
	if n < 9 {
		return wire.Frame{}, fmt.Errorf("%w: frame length %d is shorter than its 9-byte header", wire.ErrMalformed, n)
	}
	if _, err := io.ReadFull(r.r, hdr[4:]); err != nil {
		return wire.Frame{}, eofUnexpected(err)
	}
	f := wire.Frame{Type: wire.Type(hdr[4]), ID: binary.BigEndian.Uint64(hdr[5:])}
	size := n - 9
	body := make([]byte, 0, min(size, readAhead))
	for len(body) < size {
		want := min(size-len(body), readAhead)
		if cap(body)-len(body) < want {
			nb := make([]byte, len(body), min(size, 2*cap(body)+want))
			copy(nb, body)
			body = nb
		}
		m, err := io.ReadFull(r.r, body[len(body):len(body)+want])
		body = body[:len(body)+m]
		if err != nil {
			return wire.Frame{}, eofUnexpected(err)
		}
	}
	f.Body = body
	return f, nil
}

func eofUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// CBOR helpers (RFC 8949 heads, definite lengths only).

func appendHead(dst []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(dst, m|byte(n))
	case n <= 0xff:
		return append(dst, m|24, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, m|25), uint16(n))
	case n <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(dst, m|26), uint32(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, m|27), n)
	}
}

func appendText(dst []byte, s string) []byte {
	return append(appendHead(dst, 3, uint64(len(s))), s...)
}

// putHead is the CBOR body of a bridgePut up to the value's bytes, which follow it: the
// map's last entry is "d" and its byte-string head.
func putHead(oid string, plain bool, dataLen int) []byte {
	h := make([]byte, 0, 32+len(oid))
	if plain {
		h = append(h, 0xa3)
		h = appendText(h, "pl")
		h = append(h, 0xf5)
	} else {
		h = append(h, 0xa2)
	}
	h = appendText(h, "oid")
	h = appendText(h, oid)
	h = appendText(h, "d")
	return appendHead(h, 2, uint64(dataLen))
}

// readHead decodes the CBOR head at b[i:]: its major type, argument and the index after it.
// ok is false for indefinite lengths, reserved values and truncated input.
func readHead(b []byte, i int) (major byte, arg uint64, next int, ok bool) {
	if i >= len(b) {
		return 0, 0, 0, false
	}
	major, info := b[i]>>5, b[i]&0x1f
	i++
	switch {
	case info < 24:
		return major, uint64(info), i, true
	case info <= 27:
		k := 1 << (info - 24)
		if i+k > len(b) {
			return 0, 0, 0, false
		}
		var v uint64
		for _, c := range b[i : i+k] {
			v = v<<8 | uint64(c)
		}
		return major, v, i + k, true
	}
	return 0, 0, 0, false
}

// fastObjects decodes a Get answer of the form {"os": [{"d": bytes} or {"e": bytes}, ...]}
// without copying the values (they alias body, which the reader allocated for this frame
// alone). ok is false for anything else (an error answer, other keys, other encodings), and
// the caller decodes the body in full.
func fastObjects(body []byte) (objs []wire.Object, ok bool) {
	mj, n, i, ok := readHead(body, 0)
	if !ok || mj != 5 || n != 1 {
		return nil, false
	}
	if mj, n, i, ok = readHead(body, i); !ok || mj != 3 || n != 2 || i+2 > len(body) || string(body[i:i+2]) != "os" {
		return nil, false
	}
	i += 2
	mj, count, i, ok := readHead(body, i)
	if !ok || mj != 4 || count > uint64(len(body)) {
		return nil, false
	}
	objs = make([]wire.Object, count)
	for k := range objs {
		if mj, n, i, ok = readHead(body, i); !ok || mj != 5 || n != 1 {
			return nil, false
		}
		if mj, n, i, ok = readHead(body, i); !ok || mj != 3 || n != 1 || i >= len(body) {
			return nil, false
		}
		key := body[i]
		i++
		var size uint64
		if mj, size, i, ok = readHead(body, i); !ok || mj != 2 || size > uint64(len(body)-i) {
			return nil, false
		}
		v := body[i : i+int(size) : i+int(size)]
		i += int(size)
		switch key {
		case 'd':
			objs[k].Data = v
		case 'e':
			if len(v) == 0 {
				return nil, false // the full decoder's omitempty reading: leave it to it
			}
			objs[k].Err = v
		default:
			return nil, false
		}
	}
	if i != len(body) {
		return nil, false
	}
	return objs, true
}
