package wire

import "encoding/binary"

// InlineLimit is the size up to which WriteParts copies a frame's data part into the
// Writer's buffer, so that a small frame goes out in one write; a larger data part is
// written from the caller's buffer.
const InlineLimit = 64 << 10

// WriteParts writes one frame whose body is head followed by data, without joining them:
// head is usually a message's CBOR up to a byte-string head and data the byte string's
// contents, so a large value is written from the caller's buffer with no CBOR re-encoding
// copy (the Ray backend's puts). The frame is exactly WriteRaw's of head+data. data is not
// retained after the call returns.
func (w *Writer) WriteParts(t Type, id uint64, head, data []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writeLocked(t, id, head, data)
}

// Err returns the sticky error of an earlier failed write, or nil: once a write failed, the
// stream is out of sync and every later write returns that error.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// writeLocked writes one frame of body head+data and flushes it; w.mu is held. A data
// part over InlineLimit goes from the caller's buffer straight to the stream: bufio.Writer
// writes a large slice directly when its buffer is empty, which the Flush before ensures.
func (w *Writer) writeLocked(t Type, id uint64, head, data []byte) error {
	if w.err != nil {
		return w.err
	}
	n := uint64(headerLen + len(head) + len(data))
	if n > uint64(w.max) {
		return tooLarge("write", n, w.max)
	}
	var hdr [4 + headerLen]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(n))
	hdr[4] = byte(t)
	binary.BigEndian.PutUint64(hdr[5:], id)
	_, err := w.w.Write(hdr[:])
	if err == nil {
		_, err = w.w.Write(head)
	}
	if err == nil && len(data) > InlineLimit {
		err = w.w.Flush()
	}
	if err == nil {
		_, err = w.w.Write(data)
	}
	if err == nil {
		err = w.w.Flush()
	}
	if err != nil {
		w.err = err
	}
	return err
}
