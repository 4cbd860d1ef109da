package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the frame reader and every body decoder: malformed
// input must be an error, never a panic, and never an allocation beyond the frame limit.
func FuzzDecode(f *testing.F) {
	f.Add(AppendFrame(nil, TypeRun, 1, []byte{0xa2, 0x61, 'f', 0x61, 'x', 0x61, 'a', 0x41, 0x00}))
	f.Add(AppendFrame(nil, TypeResult, 2, []byte{0xa1, 0x62, 'o', 's', 0x82, 0xa0, 0xa0}))
	f.Add(AppendFrame(nil, TypeWait, 3, []byte{0xa1, 0x61, 't', 0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(AppendFrame(nil, TypeGet, 4, []byte{0xa1, 0x63, 'i', 'd', 's', 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), MinMaxFrame)
		for {
			fr, err := r.Read()
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.Is(err, ErrFrameTooLarge) && !errors.Is(err, ErrMalformed) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				return
			}
			if len(fr.Body)+headerLen > MinMaxFrame {
				t.Fatalf("frame body %d bytes beyond the limit", len(fr.Body))
			}
			for _, v := range []any{&Hello{}, &HelloOK{}, &HelloErr{}, &Run{}, &CreateActor{}, &CallActor{},
				&Result{}, &ReleaseActor{}, &Submit{}, &Put{}, &Get{}, &Wait{}, &CancelTask{},
				&CreateActorNested{}, &GetActor{}, &CallActorNested{}, &KillActor{}, &Release{}} {
				if err := fr.Decode(v); err != nil && !errors.Is(err, ErrMalformed) {
					t.Fatalf("decode %T: unexpected error kind: %v", v, err)
				}
			}
		}
	})
}
