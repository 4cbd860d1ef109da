package worker

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"testing"
	"unsafe"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/wire"
)

// How a Run's argument gets from the pipe to the task: the path below is the server's
// (wire.Reader, Frame.Decode into wire.Run, Function.DecodeArg with Owned), and the "old"
// one is the same path as it was before wire.Bytes (a frame buffer grown by doubling from
// 1 MiB, a []byte field, DecodeArg without Owned), kept here so that one benchmark run
// shows both.

var argLen = fray.NewTask("wtest.argLen", func(ctx context.Context, b []byte) (int, error) { return len(b), nil })

// runFrame is a Run frame for wtest.argLen with an n-byte argument.
func runFrame(t testing.TB, n int) []byte {
	arg, err := fray.Marshal(bytes.Repeat([]byte{'x'}, n))
	if err != nil {
		t.Fatal(err)
	}
	body, err := wire.EncodeBody(&wire.Run{Function: argLen.Name(), Arg: arg})
	if err != nil {
		t.Fatal(err)
	}
	return wire.AppendFrame(nil, wire.TypeRun, 1, body)
}

// decodeRunArg is the server's path from the stream to the task's argument.
func decodeRunArg(r io.Reader) (wire.Frame, any, error) {
	fr, err := wire.NewReader(r, 0).Read()
	if err != nil {
		return fr, nil, err
	}
	var m wire.Run
	if err := fr.Decode(&m); err != nil {
		return fr, nil, err
	}
	f, err := lookup(m.Function, backend.KindTask)
	if err != nil {
		return fr, nil, err
	}
	arg, err := f.DecodeArg(backend.Payload{Data: m.Arg, Owned: true})
	return fr, arg, err
}

// oldRun is wire.Run with the argument as a plain []byte field (decoded as a copy).
type oldRun struct {
	Function string        `cbor:"f"`
	Arg      []byte        `cbor:"a"`
	Info     wire.TaskInfo `cbor:"ti,omitempty"`
}

// oldDecodeRunArg is the path before wire.Bytes.
func oldDecodeRunArg(r io.Reader) (any, error) {
	var hdr [13]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:4])) - 9
	const chunk = 1 << 20
	buf := make([]byte, 0, min(n, chunk))
	for len(buf) < n {
		want := min(n-len(buf), chunk)
		if cap(buf)-len(buf) < want {
			nb := make([]byte, len(buf), min(n, max(2*cap(buf), len(buf)+want)))
			copy(nb, buf)
			buf = nb
		}
		m, err := io.ReadFull(r, buf[len(buf):len(buf)+want])
		buf = buf[:len(buf)+m]
		if err != nil {
			return nil, err
		}
	}
	var m oldRun
	if err := wire.DecodeBody(buf, &m); err != nil {
		return nil, err
	}
	f, err := lookup(m.Function, backend.KindTask)
	if err != nil {
		return nil, err
	}
	return f.DecodeArg(backend.Payload{Data: m.Arg})
}

// A []byte argument reaches the task as a slice of the frame's own buffer.
func TestRunArgIsNotCopied(t *testing.T) {
	for _, n := range []int{1, 1 << 20} {
		frame := runFrame(t, n)
		fr, arg, err := decodeRunArg(bytes.NewReader(frame))
		if err != nil {
			t.Fatal(err)
		}
		b, ok := arg.([]byte)
		if !ok || len(b) != n {
			t.Fatalf("n %d: argument %T of %d bytes", n, arg, len(b))
		}
		p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(fr.Body)))
		if p < lo || p+uintptr(n) > lo+uintptr(len(fr.Body)) || cap(b) != n {
			t.Fatalf("n %d: the argument is a copy, not a slice of the frame", n)
		}
		old, err := oldDecodeRunArg(bytes.NewReader(frame))
		if err != nil || !bytes.Equal(old.([]byte), b) {
			t.Fatalf("n %d: the old path decoded %v, %v", n, len(old.([]byte)), err)
		}
	}
}

// BenchmarkRunArg1MiB reads and decodes one Run frame with a 1 MiB []byte argument, the
// old way and the server's way; B/op is the memory each allocates per call (the old way:
// the frame at 1 and 2 MiB, the decoded field and the argument; now: the frame alone).
func BenchmarkRunArg1MiB(b *testing.B) {
	frame := runFrame(b, 1<<20)
	b.Run("old", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for i := 0; i < b.N; i++ {
			if _, err := oldDecodeRunArg(bytes.NewReader(frame)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for i := 0; i < b.N; i++ {
			if _, _, err := decodeRunArg(bytes.NewReader(frame)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
