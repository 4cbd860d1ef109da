package ray

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

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
	mu    sync.Mutex
	f     *os.File
	max   int
	buf   []byte
	err   error  // sticky
	shm   *ring  // the to-bridge ring, once the bridge has mapped it
	spill *spill // with shm: the spill for values that do not fit in it (spill.go)
}

func newFrameWriter(f *os.File, max int) *frameWriter {
	return &frameWriter{f: f, max: max}
}

func (w *frameWriter) enableShared(r *ring, sp *spill) {
	w.mu.Lock()
	w.shm, w.spill = r, sp
	w.mu.Unlock()
}

func (w *frameWriter) disableShared() {
	w.mu.Lock()
	w.shm, w.spill = nil, nil
	w.mu.Unlock()
}

// write encodes body with internal/wire's encoder and writes one frame.
func (w *frameWriter) write(t wire.Type, id uint64, body any) error {
	b, err := wire.EncodeBody(body)
	if err != nil {
		return err
	}
	return w.writeParts(t, id, b, nil)
}

// writePut writes a one-way bridgePut whose value's encoding is enc followed by data
// (enc may be a CBOR head and data the raw bytes, or enc empty and data the whole
// encoding): through shared memory when there is room in the ring (the frame then names
// the region), else through the spill when it is free, otherwise through the pipe.
func (w *frameWriter) writePut(oid string, plain bool, enc, data []byte) error {
	n := len(enc) + len(data)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.shm != nil && w.err == nil && n >= shmThreshold {
		if pos, ok := w.shm.alloc(n); ok {
			region, err := w.shm.region(pos, uint64(n))
			if err != nil {
				return err
			}
			copy(region[copy(region, enc):], data)
			return w.writeLocked(typePut, 0, putSharedHead(oid, plain, "sh", pos, n), nil)
		}
		if w.spill != nil {
			if region, seq, ok := w.spill.take(n); ok {
				copy(region[copy(region, enc):], data)
				return w.writeLocked(typePut, 0, putSharedHead(oid, plain, "sx", seq, n), nil)
			}
		}
	}
	if len(enc) == 0 {
		return w.writeLocked(typePut, 0, putHead(oid, plain, n), data)
	}
	return w.writeLocked(typePut, 0, append(putHead(oid, plain, n), enc...), data)
}

// writeParts writes one frame whose body is head followed by data.
func (w *frameWriter) writeParts(t wire.Type, id uint64, head, data []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writeLocked(t, id, head, data)
}

func (w *frameWriter) writeLocked(t wire.Type, id uint64, head, data []byte) error {
	n := uint64(9 + len(head) + len(data))
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
	shm *ring // the from-bridge ring: typeResultShared frames name regions in it
	// vm is the bridge once Go has found it can read its memory (vmread.go):
	// typeResultShared frames then may name values there.
	vm atomic.Pointer[vmPeer]
}

func newFrameReader(r io.Reader, max int) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// readAhead bounds how much the reader allocates for a frame before its bytes arrive.
const readAhead = 16 << 20

// answer is a frame from the bridge; for a Get answer that carried values in shared
// memory, objects holds them already resolved (and the frame's body is not a Result).
type answer struct {
	wire.Frame
	objects []wire.Object
}

// read returns the next frame; io.EOF at a clean end of stream.
func (r *frameReader) read() (answer, error) {
	var hdr [frameHeaderLen]byte
	if _, err := io.ReadFull(r.r, hdr[:4]); err != nil {
		return answer{}, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:4]))
	if n > r.max {
		return answer{}, fmt.Errorf("%w: the bridge sent a frame of %d bytes, over the %d-byte limit", wire.ErrFrameTooLarge, n, r.max)
	}
	if n < 9 {
		return answer{}, fmt.Errorf("%w: frame length %d is shorter than its 9-byte header", wire.ErrMalformed, n)
	}
	if _, err := io.ReadFull(r.r, hdr[4:]); err != nil {
		return answer{}, eofUnexpected(err)
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
			return answer{}, eofUnexpected(err)
		}
	}
	f.Body = body
	if f.Type == typeResultShared {
		if r.shm == nil && r.vm.Load() == nil {
			return answer{}, fmt.Errorf("%w: the bridge sent values in shared memory this session does not have", wire.ErrMalformed)
		}
		objs, err := r.resolveShared(body)
		if err != nil {
			return answer{}, err
		}
		f.Type = wire.TypeResult
		return answer{Frame: f, objects: objs}, nil
	}
	return answer{Frame: f}, nil
}

// resolveShared decodes a typeResultShared body, {"os": [...]} whose entries are
// {"d": bytes}, {"e": bytes}, {"s": [pos, n]} (a value in the from-bridge ring) or
// {"v": [address, n, seq]} (a value in the bridge's memory, vmread.go), copies each such
// value into a buffer of its own, and releases the regions and the pinned values. Both are
// consumed in the order the bridge wrote them, which is frame order.
func (r *frameReader) resolveShared(body []byte) ([]wire.Object, error) {
	bad := func(what string) error {
		return fmt.Errorf("%w: shared-memory result: %s", wire.ErrMalformed, what)
	}
	mj, n, i, ok := readHead(body, 0)
	if !ok || mj != 5 || n != 1 {
		return nil, bad("not a one-entry map")
	}
	if mj, n, i, ok = readHead(body, i); !ok || mj != 3 || n != 2 || i+2 > len(body) || string(body[i:i+2]) != "os" {
		return nil, bad("no \"os\" key")
	}
	i += 2
	mj, count, i, ok := readHead(body, i)
	if !ok || mj != 4 || count > uint64(len(body)) {
		return nil, bad("\"os\" is not an array")
	}
	objs := make([]wire.Object, count)
	var end, pinned uint64
	for k := range objs {
		if mj, n, i, ok = readHead(body, i); !ok || mj != 5 || n != 1 {
			return nil, bad("an object is not a one-entry map")
		}
		if mj, n, i, ok = readHead(body, i); !ok || mj != 3 || n != 1 || i >= len(body) {
			return nil, bad("an object's key is not one letter")
		}
		key := body[i]
		i++
		switch key {
		case 'd', 'e':
			var size uint64
			if mj, size, i, ok = readHead(body, i); !ok || mj != 2 || size > uint64(len(body)-i) {
				return nil, bad("an object's value is not a byte string")
			}
			v := body[i : i+int(size) : i+int(size)]
			i += int(size)
			if key == 'd' {
				objs[k].Data = v
			} else if len(v) > 0 {
				objs[k].Err = v
			}
		case 's':
			var pos, size uint64
			if mj, n, i, ok = readHead(body, i); !ok || mj != 4 || n != 2 {
				return nil, bad("a region is not [pos, n]")
			}
			if mj, pos, i, ok = readHead(body, i); !ok || mj != 0 {
				return nil, bad("a region's position is not an unsigned integer")
			}
			if mj, size, i, ok = readHead(body, i); !ok || mj != 0 {
				return nil, bad("a region's size is not an unsigned integer")
			}
			if r.shm == nil {
				return nil, bad("a ring region, and this session has no ring")
			}
			region, err := r.shm.region(pos, size)
			if err != nil {
				return nil, bad(err.Error())
			}
			// append, not make+copy: the new buffer is not zeroed first
			objs[k].Data = append([]byte(nil), region...)
			end = pos + size
		case 'v':
			var addr, size, seq uint64
			if mj, n, i, ok = readHead(body, i); !ok || mj != 4 || n != 3 {
				return nil, bad("a value in the bridge's memory is not [address, n, seq]")
			}
			if mj, addr, i, ok = readHead(body, i); !ok || mj != 0 {
				return nil, bad("an address is not an unsigned integer")
			}
			if mj, size, i, ok = readHead(body, i); !ok || mj != 0 || size > uint64(r.max) {
				return nil, bad("a size is not an unsigned integer within the frame limit")
			}
			if mj, seq, i, ok = readHead(body, i); !ok || mj != 0 {
				return nil, bad("a sequence number is not an unsigned integer")
			}
			peer := r.vm.Load()
			if peer == nil {
				return nil, bad("a value in the bridge's memory, which this session does not read")
			}
			v := make([]byte, size)
			if size > 0 {
				if err := readPeer(peer.pid, v, addr); err != nil {
					return nil, err
				}
			}
			objs[k].Data = v
			pinned = seq
		default:
			return nil, bad(fmt.Sprintf("unknown object key %q", key))
		}
	}
	if i != len(body) {
		return nil, bad("trailing bytes")
	}
	if end != 0 {
		r.shm.release(end)
	}
	if pinned != 0 {
		r.vm.Load().release(pinned)
	}
	return objs, nil
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
	h := appendText(putPrefix(oid, plain), "d")
	return appendHead(h, 2, uint64(dataLen))
}

// byteStringHead is the CBOR head of a byte string of n bytes.
func byteStringHead(n int) []byte { return appendHead(make([]byte, 0, 9), 2, uint64(n)) }

// putSharedHead is the CBOR body of a bridgePut whose value lies in shared memory:
// {"oid": oid, ["pl": true,] key: [at, n]}, key "sh" with at the value's stream position in
// the to-bridge ring, or key "sx" with at its sequence number in the spill.
func putSharedHead(oid string, plain bool, key string, at uint64, n int) []byte {
	h := appendHead(appendText(putPrefix(oid, plain), key), 4, 2)
	h = appendHead(h, 0, at)
	return appendHead(h, 0, uint64(n))
}

// putPrefix starts a bridgePut body: the head of a map of three entries (two unless plain),
// ["pl": true,] "oid": oid; the caller appends the last entry.
func putPrefix(oid string, plain bool) []byte {
	h := make([]byte, 0, 48+len(oid))
	if plain {
		h = append(h, 0xa3)
		h = appendText(h, "pl")
		h = append(h, 0xf5)
	} else {
		h = append(h, 0xa2)
	}
	h = appendText(h, "oid")
	return appendText(h, oid)
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

func eofUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
