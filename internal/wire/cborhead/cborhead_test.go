package cborhead

import (
	"bytes"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

func TestAppend(t *testing.T) {
	for _, tc := range []struct {
		major byte
		n     uint64
		want  []byte
	}{
		{MajorUint, 0, []byte{0x00}},
		{MajorUint, 23, []byte{0x17}},
		{MajorUint, 24, []byte{0x18, 24}},
		{MajorUint, 255, []byte{0x18, 0xff}},
		{MajorUint, 256, []byte{0x19, 1, 0}},
		{MajorUint, 65535, []byte{0x19, 0xff, 0xff}},
		{MajorUint, 65536, []byte{0x1a, 0, 1, 0, 0}},
		{MajorUint, 1<<32 - 1, []byte{0x1a, 0xff, 0xff, 0xff, 0xff}},
		{MajorUint, 1 << 32, []byte{0x1b, 0, 0, 0, 1, 0, 0, 0, 0}},
		{MajorUint, 1<<64 - 1, []byte{0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{MajorBytes, 3, []byte{0x43}},
		{MajorBytes, 300, []byte{0x59, 1, 44}},
		{MajorText, 2, []byte{0x62}},
		{MajorText, 30, []byte{0x78, 30}},
		{MajorArray, 2, []byte{0x82}},
		{MajorMap, 1, []byte{0xa1}},
		{MajorMap, 70000, []byte{0xba, 0, 1, 0x11, 0x70}},
	} {
		got := Append([]byte{0xee}, tc.major, tc.n)
		if !bytes.Equal(got[1:], tc.want) || got[0] != 0xee {
			t.Errorf("Append(%d, %d) = % x, want % x after the prefix", tc.major, tc.n, got, tc.want)
		}
		major, n, next, ok := Read(got, 1)
		if !ok || major != tc.major || n != tc.n || next != len(got) {
			t.Errorf("Read(% x, 1) = %d, %d, %d, %v; want %d, %d, %d, true", got, major, n, next, ok, tc.major, tc.n, len(got))
		}
	}
}

// TestAppendStrings: AppendBytes and AppendText agree byte for byte with the general
// encoder at every length class.
func TestAppendStrings(t *testing.T) {
	for _, n := range []int{0, 1, 23, 24, 255, 256, 65535, 65536} {
		s := strings.Repeat("j", n)
		want, err := cbor.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendText(nil, s); !bytes.Equal(got, want) {
			t.Errorf("AppendText(%d bytes) = % x..., want % x...", n, got[:min(len(got), 9)], want[:min(len(want), 9)])
		}
		want, err = cbor.Marshal([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		var head [MaxLen]byte
		if got := AppendBytes(head[:0], []byte(s)); !bytes.Equal(got, want) {
			t.Errorf("AppendBytes(%d bytes) = % x..., want % x...", n, got[:min(len(got), 9)], want[:min(len(want), 9)])
		}
	}
}

func TestRead(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    []byte
		at    int
		major byte
		arg   uint64
		next  int
		ok    bool
	}{
		{"small", []byte{0x65}, 0, MajorText, 5, 1, true},
		{"at an offset", []byte{0x00, 0x82}, 1, MajorArray, 2, 2, true},
		{"one-byte argument", []byte{0x58, 200}, 0, MajorBytes, 200, 2, true},
		{"eight-byte argument", []byte{0x1b, 0, 0, 0, 0, 0, 0, 1, 0}, 0, MajorUint, 256, 9, true},
		{"simple value true", []byte{0xf5}, 0, 7, 21, 1, true},
		{"indefinite", []byte{0x5f}, 0, 0, 0, 0, false},
		{"reserved", []byte{0x1c}, 0, 0, 0, 0, false},
		{"cut argument", []byte{0x1a, 0, 0}, 0, 0, 0, 0, false},
		{"empty", nil, 0, 0, 0, 0, false},
		{"past the end", []byte{0x01}, 1, 0, 0, 0, false},
		{"negative index", []byte{0x01}, -1, 0, 0, 0, false},
	} {
		major, arg, next, ok := Read(tc.in, tc.at)
		if major != tc.major || arg != tc.arg || next != tc.next || ok != tc.ok {
			t.Errorf("%s: Read = %d, %d, %d, %v; want %d, %d, %d, %v", tc.name, major, arg, next, ok, tc.major, tc.arg, tc.next, tc.ok)
		}
	}
}

func TestByteString(t *testing.T) {
	long := bytes.Repeat([]byte{7}, 300)
	for _, tc := range []struct {
		name string
		in   []byte
		want []byte // nil: not one byte string
	}{
		{"empty string", []byte{0x40}, []byte{}},
		{"short", []byte{0x43, 1, 2, 3}, []byte{1, 2, 3}},
		{"one-byte length", append([]byte{0x58, 3}, 1, 2, 3), []byte{1, 2, 3}},
		{"two-byte length", append([]byte{0x59, 1, 44}, long...), long},
		{"four-byte length", append([]byte{0x5a, 0, 0, 1, 44}, long...), long},
		{"indefinite", []byte{0x5f, 0x41, 1, 0xff}, nil},
		{"reserved info", []byte{0x5c}, nil},
		{"null", []byte{0xf6}, nil},
		{"text string", []byte{0x61, 'a'}, nil},
		{"length longer than data", []byte{0x43, 1, 2}, nil},
		{"length shorter than data", []byte{0x41, 1, 2}, nil},
		{"cut length", []byte{0x59, 1}, nil},
		{"huge length", []byte{0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, nil},
		{"nothing", nil, nil},
	} {
		got, ok := ByteString(tc.in)
		if ok != (tc.want != nil) {
			t.Errorf("%s: ok = %v, want %v", tc.name, ok, tc.want != nil)
			continue
		}
		if ok && (!bytes.Equal(got, tc.want) || cap(got) != len(got)) {
			t.Errorf("%s: got %d bytes (cap %d), want %d", tc.name, len(got), cap(got), len(tc.want))
		}
	}
}

// FuzzHeads: Read never panics and agrees with the general decoder on every head it
// accepts; ByteString accepts only what the decoder decodes as that byte string; what
// Append writes, Read reads back.
func FuzzHeads(f *testing.F) {
	f.Add([]byte{0x43, 1, 2, 3}, uint64(3))
	f.Add([]byte{0x5f, 0x41, 1, 0xff}, uint64(0))
	f.Add([]byte{0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint64(1<<63))
	f.Add([]byte{0xa1, 0x61, 'd', 0x40}, uint64(24))
	f.Fuzz(func(t *testing.T, data []byte, n uint64) {
		if major, arg, next, ok := Read(data, 0); ok {
			if next < 1 || next > len(data) || next > MaxLen {
				t.Fatalf("Read(% x) next = %d", data, next)
			}
			if major == MajorUint {
				var v uint64
				if err := cbor.Unmarshal(data[:next], &v); err != nil || v != arg {
					t.Fatalf("Read(% x) = %d, decoder says %d, %v", data, arg, v, err)
				}
			}
			if re := Append(nil, major, arg); major != 7 && len(re) > next {
				t.Fatalf("Read(% x) took %d bytes; the shortest head is %d", data, next, len(re))
			}
		}
		if v, ok := ByteString(data); ok {
			var want []byte
			if err := cbor.Unmarshal(data, &want); err != nil || !bytes.Equal(v, want) {
				t.Fatalf("ByteString(% x) = % x; decoder says % x, %v", data, v, want, err)
			}
		}
		for _, major := range []byte{MajorUint, MajorBytes, MajorText, MajorArray, MajorMap} {
			h := Append(nil, major, n)
			if m, arg, next, ok := Read(h, 0); !ok || m != major || arg != n || next != len(h) {
				t.Fatalf("Read(Append(%d, %d) = % x) = %d, %d, %d, %v", major, n, h, m, arg, next, ok)
			}
		}
	})
}
