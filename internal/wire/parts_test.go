package wire

import (
	"bytes"
	"errors"
	"testing"
)

// errWriter fails every write.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestWriteParts(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 3*InlineLimit)
	for _, tc := range []struct {
		name       string
		head, data []byte
	}{
		{"empty", nil, nil},
		{"head only", []byte{0xa0}, nil},
		{"small data", []byte{0xa1, 0x61, 'd', 0x43}, []byte("abc")},
		{"data at the inline limit", []byte{0xa0}, big[:InlineLimit]},
		{"large data", []byte{0xa1, 0x61, 'd', 0x5a, 0, 3, 0, 0}, big},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var parts, whole bytes.Buffer
			if err := NewWriter(&parts, 0).WriteParts(TypeResult, 7, tc.head, tc.data); err != nil {
				t.Fatal(err)
			}
			body := append(append([]byte(nil), tc.head...), tc.data...)
			if err := NewWriter(&whole, 0).WriteRaw(TypeResult, 7, body); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(parts.Bytes(), whole.Bytes()) {
				t.Fatalf("WriteParts wrote %d bytes that differ from WriteRaw's %d", parts.Len(), whole.Len())
			}
			f, err := ReadFrame(&parts, 0)
			if err != nil || f.Type != TypeResult || f.ID != 7 || !bytes.Equal(f.Body, body) {
				t.Fatalf("read back: type %v id %d, %d body bytes, %v", f.Type, f.ID, len(f.Body), err)
			}
		})
	}
}

func TestWritePartsLimitAndStickyError(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, MinMaxFrame)
	if err := w.WriteParts(TypeResult, 1, []byte{0xa0}, make([]byte, MinMaxFrame)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized frame: %v", err)
	}
	if buf.Len() != 0 || w.Err() != nil {
		t.Fatalf("an oversized frame wrote %d bytes or stuck an error (%v)", buf.Len(), w.Err())
	}
	bw := NewWriter(errWriter{}, 0)
	if err := bw.WriteParts(TypeResult, 1, []byte{0xa0}, make([]byte, 2*InlineLimit)); err == nil {
		t.Fatal("write to a broken stream succeeded")
	}
	if bw.Err() == nil {
		t.Fatal("Err() is nil after a failed write")
	}
	if err := bw.WriteRaw(TypeResult, 2, []byte{0xa0}); err == nil {
		t.Fatal("a write after a failed one succeeded")
	}
}
