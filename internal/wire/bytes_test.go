package wire

import (
	"bytes"
	"io"
	"testing"
	"unsafe"
)

// within reports whether b's bytes lie inside buf.
func within(b, buf []byte) bool {
	if len(b) == 0 || len(buf) == 0 {
		return false
	}
	p, lo := uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	return p >= lo && p+uintptr(len(b)) <= lo+uintptr(len(buf))
}

// A 1 MiB argument is read into one buffer of the frame's size and decoded as a slice of
// it; an indefinite-length or null argument still decodes (as a copy, or nil).
func TestRunArgDecodesWithoutCopy(t *testing.T) {
	for _, size := range []int{0, 100, 1 << 20, 3 << 20} {
		arg := bytes.Repeat([]byte{'x'}, size)
		body, err := EncodeBody(&Run{Function: "f", Arg: arg})
		if err != nil {
			t.Fatal(err)
		}
		fr, err := NewReader(bytes.NewReader(AppendFrame(nil, TypeRun, 1, body)), 0).Read()
		if err != nil {
			t.Fatal(err)
		}
		if cap(fr.Body) != len(fr.Body) {
			t.Fatalf("size %d: frame buffer cap %d for a %d-byte body", size, cap(fr.Body), len(fr.Body))
		}
		var m Run
		if err := fr.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m.Arg, arg) || m.Arg == nil {
			t.Fatalf("size %d: decoded %d bytes", size, len(m.Arg))
		}
		if size > 0 && (!within(m.Arg, fr.Body) || cap(m.Arg) != len(m.Arg)) {
			t.Fatalf("size %d: the argument is a copy, not a slice of the frame", size)
		}
	}
	for _, tc := range []struct {
		name string
		arg  []byte // CBOR item for "a"
		want []byte
	}{
		{"indefinite", []byte{0x5f, 0x41, 1, 0x42, 2, 3, 0xff}, []byte{1, 2, 3}},
		{"null", []byte{0xf6}, nil},
	} {
		body := append([]byte{0xa2, 0x61, 'f', 0x61, 'x', 0x61, 'a'}, tc.arg...)
		var m Run
		if err := DecodeBody(body, &m); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !bytes.Equal(m.Arg, tc.want) || (tc.want == nil) != (m.Arg == nil) {
			t.Fatalf("%s: decoded %v, want %v", tc.name, m.Arg, tc.want)
		}
	}
	var m Run
	if err := DecodeBody([]byte{0xa1, 0x61, 'a', 0x61, 'x'}, &m); err == nil {
		t.Fatal("a text string as the argument decoded without an error")
	}
}

// A frame that ends early inside a long body is io.ErrUnexpectedEOF at either step.
func TestLongFrameCut(t *testing.T) {
	frame := AppendFrame(nil, TypeRun, 1, make([]byte, 3<<20))
	for _, cut := range []int{100, 2 << 20, 3 << 20} {
		_, err := NewReader(bytes.NewReader(frame[:cut]), 0).Read()
		if err != io.ErrUnexpectedEOF {
			t.Fatalf("cut at %d: err = %v", cut, err)
		}
	}
}
