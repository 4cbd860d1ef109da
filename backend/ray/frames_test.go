package ray

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/fray-go/fray/internal/wire"
)

func TestPutHead(t *testing.T) {
	for _, size := range []int{0, 1, 23, 24, 255, 256, 65535, 65536, 1 << 20} {
		for _, plain := range []bool{false, true} {
			data := bytes.Repeat([]byte{0x82}, size)
			body := append(putHead("dabc.7", plain, len(data)), data...)
			var got bridgePut
			if err := wire.DecodeBody(body, &got); err != nil {
				t.Fatalf("size %d: %v", size, err)
			}
			if got.OID != "dabc.7" || got.Plain != plain || !bytes.Equal(got.Data, data) {
				t.Fatalf("size %d plain %v: decoded %q %v %d bytes", size, plain, got.OID, got.Plain, len(got.Data))
			}
		}
	}
}

func TestFastObjects(t *testing.T) {
	enc := func(v any) []byte {
		b, err := wire.EncodeBody(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	big := bytes.Repeat([]byte("x"), 70000)
	cases := []struct {
		name string
		body []byte
		ok   bool
	}{
		{"one value", enc(map[string]any{"os": []any{map[string]any{"d": []byte("abc")}}}), true},
		{"empty value", enc(map[string]any{"os": []any{map[string]any{"d": []byte{}}}}), true},
		{"values and errors", enc(map[string]any{"os": []any{map[string]any{"d": big}, map[string]any{"e": []byte("boom")}}}), true},
		{"no objects", enc(map[string]any{"os": []any{}}), true},
		{"error answer", enc(map[string]any{"e": []byte("boom")}), false},
		{"other key", enc(map[string]any{"os": []any{map[string]any{"x": []byte("a")}}}), false},
		{"text value", enc(map[string]any{"os": []any{map[string]any{"d": "abc"}}}), false},
		{"two keys", enc(map[string]any{"os": []any{}, "rd": []bool{true}}), false},
		{"trailing bytes", append(enc(map[string]any{"os": []any{}}), 0), false},
		{"truncated", enc(map[string]any{"os": []any{map[string]any{"d": big}}})[:1000], false},
		{"empty", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			objs, ok := fastObjects(c.body)
			if ok != c.ok {
				t.Fatalf("ok = %v, want %v", ok, c.ok)
			}
			if !ok {
				return
			}
			var want wire.Result
			if err := wire.DecodeBody(c.body, &want); err != nil {
				t.Fatal(err)
			}
			assertSameObjects(t, objs, want.Objects)
		})
	}
}

func assertSameObjects(t *testing.T, got, want []wire.Object) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d objects, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i].Data, want[i].Data) || !bytes.Equal(got[i].Err, want[i].Err) || (got[i].Err == nil) != (want[i].Err == nil) {
			t.Fatalf("object %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

// FuzzFastObjects checks that whatever the fast decoder accepts, the full decoder decodes
// to the same objects.
func FuzzFastObjects(f *testing.F) {
	for _, v := range []any{
		map[string]any{"os": []any{map[string]any{"d": []byte("abc")}, map[string]any{"e": []byte("x")}}},
		map[string]any{"os": []any{}},
		map[string]any{"e": []byte("boom")},
	} {
		b, _ := wire.EncodeBody(v)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		objs, ok := fastObjects(body)
		if !ok {
			return
		}
		var want wire.Result
		if err := wire.DecodeBody(body, &want); err != nil {
			t.Fatalf("fast decoder accepted what the full one rejects: %v", err)
		}
		if want.Err != nil || want.Data != nil || want.ObjectID != "" || want.Ready != nil || want.Actor != nil {
			t.Fatalf("fast decoder ignored fields: %+v", want)
		}
		assertSameObjects(t, objs, want.Objects)
	})
}

func TestFrameWriterReader(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fw := newFrameWriter(w, 8<<20)
	fr := newFrameReader(r, 8<<20)
	big := bytes.Repeat([]byte("y"), 3<<20)
	go func() {
		_ = fw.write(wire.TypeRelease, 0, wire.Release{IDs: []string{"a"}})
		_ = fw.writeParts(typePut, 9, putHead("o1", true, len(big)), big)
		_ = fw.writeParts(typePut, 10, putHead("o2", false, 3), []byte("abc"))
		w.Close()
	}()
	f, err := fr.read()
	if err != nil || f.Type != wire.TypeRelease {
		t.Fatalf("frame 1: %v %v", f.Type, err)
	}
	var rel wire.Release
	if err := f.Decode(&rel); err != nil || !reflect.DeepEqual(rel.IDs, []string{"a"}) {
		t.Fatalf("release: %+v %v", rel, err)
	}
	for _, want := range []struct {
		id   uint64
		oid  string
		data []byte
	}{{9, "o1", big}, {10, "o2", []byte("abc")}} {
		f, err := fr.read()
		if err != nil || f.Type != typePut || f.ID != want.id {
			t.Fatalf("put frame: %v %v %v", f.Type, f.ID, err)
		}
		var p bridgePut
		if err := f.Decode(&p); err != nil || p.OID != want.oid || !bytes.Equal(p.Data, want.data) {
			t.Fatalf("put: %q %d bytes %v", p.OID, len(p.Data), err)
		}
	}
	if _, err := fr.read(); err == nil {
		t.Fatal("read after the writer closed succeeded")
	}
	if err := fw.writeParts(typePut, 1, putHead("o", true, 9<<20), make([]byte, 9<<20)); !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Fatalf("oversized frame: %v", err)
	}
}
