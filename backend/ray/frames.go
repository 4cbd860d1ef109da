package ray

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/fray-go/fray/internal/wire"
	"github.com/fray-go/fray/internal/wire/cborhead"
)

// The Go driver's side of its link to the bridge, tuned for large values. Frames are read
// and written by internal/wire's Reader and Writer (PROTOCOL.md); on top of them, a Put's
// value goes straight from the caller's buffer (wire.Writer.WriteParts: no CBOR
// re-encoding copy of it) or through shared memory, and a Get's answer is decoded without
// copying the values out.

// frameWriter writes whole frames to the bridge's input pipe; safe for concurrent use. Its
// lock keeps a put's shared-memory region and its frame in one order (the bridge consumes
// regions in frame order); the frames themselves are wire.Writer's.
type frameWriter struct {
	mu    sync.Mutex
	w     *wire.Writer
	shm   *ring  // the to-bridge ring, once the bridge has mapped it
	spill *spill // with shm: the spill for values that do not fit in it (spill.go)
}

func newFrameWriter(f *os.File, max int) *frameWriter {
	return &frameWriter{w: wire.NewWriter(f, max)}
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
	if w.shm != nil && w.w.Err() == nil && n >= shmThreshold {
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
	return w.w.WriteParts(t, id, head, data)
}

// frameReader reads frames from the bridge's output pipe (with a wire.Reader) and resolves
// the values of typeResultShared answers; one goroutine reads.
type frameReader struct {
	r   *wire.Reader
	max int
	shm *ring // the from-bridge ring: typeResultShared frames name regions in it
	// vm is the bridge once Go has found it can read its memory (vmread.go):
	// typeResultShared frames then may name values there.
	vm atomic.Pointer[vmPeer]
}

func newFrameReader(r io.Reader, max int) *frameReader {
	rd := wire.NewReader(r, max)
	return &frameReader{r: rd, max: rd.Max()}
}

// answer is a frame from the bridge; for a Get answer that carried values in shared
// memory, objects holds them already resolved (and the frame's body is not a Result).
type answer struct {
	wire.Frame
	objects []wire.Object
}

// read returns the next frame; io.EOF at a clean end of stream.
func (r *frameReader) read() (answer, error) {
	f, err := r.r.Read()
	if err != nil {
		return answer{}, err
	}
	body := f.Body
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
	mj, n, i, ok := cborhead.Read(body, 0)
	if !ok || mj != 5 || n != 1 {
		return nil, bad("not a one-entry map")
	}
	if mj, n, i, ok = cborhead.Read(body, i); !ok || mj != 3 || n != 2 || i+2 > len(body) || string(body[i:i+2]) != "os" {
		return nil, bad("no \"os\" key")
	}
	i += 2
	mj, count, i, ok := cborhead.Read(body, i)
	if !ok || mj != 4 || count > uint64(len(body)) {
		return nil, bad("\"os\" is not an array")
	}
	objs := make([]wire.Object, count)
	var end, pinned uint64
	for k := range objs {
		if mj, n, i, ok = cborhead.Read(body, i); !ok || mj != 5 || n != 1 {
			return nil, bad("an object is not a one-entry map")
		}
		if mj, n, i, ok = cborhead.Read(body, i); !ok || mj != 3 || n != 1 || i >= len(body) {
			return nil, bad("an object's key is not one letter")
		}
		key := body[i]
		i++
		switch key {
		case 'd', 'e':
			var size uint64
			if mj, size, i, ok = cborhead.Read(body, i); !ok || mj != 2 || size > uint64(len(body)-i) {
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
			if mj, n, i, ok = cborhead.Read(body, i); !ok || mj != 4 || n != 2 {
				return nil, bad("a region is not [pos, n]")
			}
			if mj, pos, i, ok = cborhead.Read(body, i); !ok || mj != 0 {
				return nil, bad("a region's position is not an unsigned integer")
			}
			if mj, size, i, ok = cborhead.Read(body, i); !ok || mj != 0 {
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
			if mj, n, i, ok = cborhead.Read(body, i); !ok || mj != 4 || n != 3 {
				return nil, bad("a value in the bridge's memory is not [address, n, seq]")
			}
			if mj, addr, i, ok = cborhead.Read(body, i); !ok || mj != 0 {
				return nil, bad("an address is not an unsigned integer")
			}
			if mj, size, i, ok = cborhead.Read(body, i); !ok || mj != 0 || size > uint64(r.max) {
				return nil, bad("a size is not an unsigned integer within the frame limit")
			}
			if mj, seq, i, ok = cborhead.Read(body, i); !ok || mj != 0 {
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

// putHead is the CBOR body of a bridgePut up to the value's bytes, which follow it: the
// map's last entry is "d" and its byte-string head.
func putHead(oid string, plain bool, dataLen int) []byte {
	h := cborhead.AppendText(putPrefix(oid, plain), "d")
	return cborhead.Append(h, 2, uint64(dataLen))
}

// byteStringHead is the CBOR head of a byte string of n bytes.
func byteStringHead(n int) []byte {
	return cborhead.Append(make([]byte, 0, cborhead.MaxLen), cborhead.MajorBytes, uint64(n))
}

// putSharedHead is the CBOR body of a bridgePut whose value lies in shared memory:
// {"oid": oid, ["pl": true,] key: [at, n]}, key "sh" with at the value's stream position in
// the to-bridge ring, or key "sx" with at its sequence number in the spill.
func putSharedHead(oid string, plain bool, key string, at uint64, n int) []byte {
	h := cborhead.Append(cborhead.AppendText(putPrefix(oid, plain), key), 4, 2)
	h = cborhead.Append(h, 0, at)
	return cborhead.Append(h, 0, uint64(n))
}

// putPrefix starts a bridgePut body: the head of a map of three entries (two unless plain),
// ["pl": true,] "oid": oid; the caller appends the last entry.
func putPrefix(oid string, plain bool) []byte {
	h := make([]byte, 0, 48+len(oid))
	if plain {
		h = cborhead.Append(h, cborhead.MajorMap, 3)
		h = cborhead.AppendText(h, "pl")
		h = append(h, 0xf5) // true
	} else {
		h = cborhead.Append(h, cborhead.MajorMap, 2)
	}
	h = cborhead.AppendText(h, "oid")
	return cborhead.AppendText(h, oid)
}

// fastObjects decodes a Get answer of the form {"os": [{"d": bytes} or {"e": bytes}, ...]}
// without copying the values (they alias body, which the reader allocated for this frame
// alone). ok is false for anything else (an error answer, other keys, other encodings), and
// the caller decodes the body in full.
func fastObjects(body []byte) (objs []wire.Object, ok bool) {
	mj, n, i, ok := cborhead.Read(body, 0)
	if !ok || mj != 5 || n != 1 {
		return nil, false
	}
	if mj, n, i, ok = cborhead.Read(body, i); !ok || mj != 3 || n != 2 || i+2 > len(body) || string(body[i:i+2]) != "os" {
		return nil, false
	}
	i += 2
	mj, count, i, ok := cborhead.Read(body, i)
	if !ok || mj != 4 || count > uint64(len(body)) {
		return nil, false
	}
	objs = make([]wire.Object, count)
	for k := range objs {
		if mj, n, i, ok = cborhead.Read(body, i); !ok || mj != 5 || n != 1 {
			return nil, false
		}
		if mj, n, i, ok = cborhead.Read(body, i); !ok || mj != 3 || n != 1 || i >= len(body) {
			return nil, false
		}
		key := body[i]
		i++
		var size uint64
		if mj, size, i, ok = cborhead.Read(body, i); !ok || mj != 2 || size > uint64(len(body)-i) {
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
