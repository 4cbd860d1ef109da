package ray

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/fray-go/fray/internal/wire"
	"github.com/fray-go/fray/internal/wire/cborhead"
)

// testShm is shared memory over a plain byte slice: the ring logic does not care whether
// another process maps it.
func testShm(ringSize int) *sharedMemory {
	mem := make([]byte, shmHeader+2*ringSize)
	return newSharedMemoryOver(mem, ringSize, func() error { return nil })
}

func TestRingAlloc(t *testing.T) {
	type step struct {
		alloc   int    // bytes to allocate, or 0 to release up to free
		free    uint64 // with alloc 0: the consumer's new freed counter
		wantPos uint64
		wantOK  bool
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"fits", []step{{alloc: 100, wantPos: 0, wantOK: true}, {alloc: 100, wantPos: 128, wantOK: true}}},
		{"whole ring", []step{{alloc: 1024, wantPos: 0, wantOK: true}, {alloc: 1, wantOK: false}}},
		{"larger than the ring", []step{{alloc: 1025, wantOK: false}}},
		{"empty", []step{{alloc: -1, wantOK: false}}},
		{"full until released", []step{
			{alloc: 600, wantPos: 0, wantOK: true},
			{alloc: 600, wantOK: false},
			{free: 600},
			{alloc: 600, wantPos: 1024, wantOK: true}, // 640 + 600 > 1024: wraps to the start
		}},
		{"a wrapped value waits for the start of the ring", []step{
			{alloc: 512, wantPos: 0, wantOK: true},
			{alloc: 256, wantPos: 512, wantOK: true},
			{alloc: 512, wantOK: false}, // wraps to 1024 = offset 0, still in use
			{free: 512},
			{alloc: 512, wantPos: 1024, wantOK: true},
			{alloc: 200, wantOK: false}, // 1536 is offset 512: in use until 768 is freed
			{free: 768},
			{alloc: 200, wantPos: 1536, wantOK: true},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			shm := testShm(1024)
			r := shm.toPy
			for i, s := range c.steps {
				if s.alloc == 0 {
					r.release(s.free)
					continue
				}
				pos, ok := r.alloc(s.alloc)
				if ok != s.wantOK || (ok && pos != s.wantPos) {
					t.Fatalf("step %d: alloc(%d) = %d, %v; want %d, %v", i, s.alloc, pos, ok, s.wantPos, s.wantOK)
				}
				if ok {
					if _, err := r.region(pos, uint64(s.alloc)); err != nil {
						t.Fatalf("step %d: region of an allocation: %v", i, err)
					}
				}
			}
		})
	}
}

func TestRingNeverOverwritesUnconsumed(t *testing.T) {
	// A producer and a consumer taking turns at random sizes: every value read back intact.
	shm := testShm(4096)
	r := shm.toPy
	type held struct {
		pos  uint64
		data []byte
	}
	var queue []held
	seed := uint32(1)
	next := func(n uint32) int { seed = seed*1664525 + 1013904223; return int(seed>>8) % int(n) }
	for i := 0; i < 20000; i++ {
		if next(3) > 0 {
			size := 1 + next(1500)
			pos, ok := r.alloc(size)
			if !ok {
				continue
			}
			region, err := r.region(pos, uint64(size))
			if err != nil {
				t.Fatal(err)
			}
			data := bytes.Repeat([]byte{byte(i)}, size)
			copy(region, data)
			queue = append(queue, held{pos, data})
		} else if len(queue) > 0 {
			h := queue[0]
			queue = queue[1:]
			region, _ := r.region(h.pos, uint64(len(h.data)))
			if !bytes.Equal(region, h.data) {
				t.Fatalf("step %d: value at %d was overwritten before it was consumed", i, h.pos)
			}
			r.release(h.pos + uint64(len(h.data)))
		}
	}
}

func TestWritePutShared(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	shm := testShm(700 << 10) // room for two of the values below
	fw := newFrameWriter(pw, 8<<20)
	fw.enableShared(shm.toPy, nil)
	fr := newFrameReader(pr, 8<<20)
	big := bytes.Repeat([]byte("z"), 300<<10)
	head := byteStringHead(len(big))
	go func() {
		_ = fw.writePut("o1", true, head, big)           // shared memory
		_ = fw.writePut("o2", true, head, big)           // shared memory, second region
		_ = fw.writePut("o3", false, nil, []byte("abc")) // small: the pipe
		_ = fw.writePut("o4", true, head, big)           // the ring is full: the pipe
	}()
	want := append(append([]byte(nil), head...), big...)
	for _, c := range []struct {
		oid    string
		shared bool
		data   []byte
	}{{"o1", true, want}, {"o2", true, want}, {"o3", false, []byte("abc")}, {"o4", false, want}} {
		f, err := fr.read()
		if err != nil || f.Type != typePut {
			t.Fatalf("%s: %v %v", c.oid, f.Type, err)
		}
		var p bridgePut
		if err := f.Decode(&p); err != nil || p.OID != c.oid {
			t.Fatalf("%s: decoded %+v, %v", c.oid, p.OID, err)
		}
		if c.shared {
			if len(p.Shared) != 2 || p.Data != nil {
				t.Fatalf("%s: want a shared region, got %v and %d inline bytes", c.oid, p.Shared, len(p.Data))
			}
			region, err := shm.toPy.region(p.Shared[0], p.Shared[1])
			if err != nil || !bytes.Equal(region, c.data) {
				t.Fatalf("%s: region %v holds the wrong bytes (%v)", c.oid, p.Shared, err)
			}
		} else if p.Shared != nil || !bytes.Equal(p.Data, c.data) {
			t.Fatalf("%s: want %d inline bytes, got %d (shared %v)", c.oid, len(c.data), len(p.Data), p.Shared)
		}
	}
}

// TestWritePutSpill: a value larger than the ring goes through the spill, which grows to
// fit; while the bridge has not consumed the spill's value, the next takes the pipe.
func TestWritePutSpill(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	shm := testShm(256 << 10)
	var freed uint64
	grows := 0
	sp := &spill{freed: &freed, grow: func(old []byte, n int) ([]byte, error) {
		grows++
		if n%spillGrain != 0 {
			t.Errorf("spill grown to %d bytes, not a multiple of %d", n, spillGrain)
		}
		return make([]byte, n), nil
	}}
	fw := newFrameWriter(pw, 16<<20)
	fw.enableShared(shm.toPy, sp)
	fr := newFrameReader(pr, 16<<20)
	big := bytes.Repeat([]byte("s"), 1<<20+5)
	bigger := bytes.Repeat([]byte("t"), 3<<20)
	next := func() bridgePut {
		t.Helper()
		f, err := fr.read()
		if err != nil || f.Type != typePut {
			t.Fatalf("read: %v %v", f.Type, err)
		}
		var p bridgePut
		if err := f.Decode(&p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	check := func(p bridgePut, oid string, seq uint64, want []byte) {
		t.Helper()
		if p.OID != oid || p.Shared != nil || p.Data != nil || len(p.Spill) != 2 || p.Spill[0] != seq || p.Spill[1] != uint64(len(want)) {
			t.Fatalf("%s: want spill [%d %d], got %+v", oid, seq, len(want), p.Spill)
		}
		if !bytes.Equal(sp.mem[:len(want)], want) {
			t.Fatalf("%s: the spill holds the wrong bytes", oid)
		}
	}
	go func() { _ = fw.writePut("s1", true, nil, big) }()
	check(next(), "s1", 1, big)
	go func() { _ = fw.writePut("s2", true, nil, big) }() // s1 not consumed: the pipe
	if p := next(); p.Spill != nil || !bytes.Equal(p.Data, big) {
		t.Fatalf("s2: want %d bytes through the pipe, got spill %v and %d bytes", len(big), p.Spill, len(p.Data))
	}
	freed = 1
	go func() { _ = fw.writePut("s3", true, nil, bigger) }()
	check(next(), "s3", 2, bigger)
	if grows != 2 || len(sp.mem) != 3<<20 {
		t.Fatalf("spill grew %d times to %d bytes, want 2 times to %d", grows, len(sp.mem), 3<<20)
	}
}

// sharedResult encodes a typeResultShared body by hand, as the bridge does.
func sharedResult(entries ...[]byte) []byte {
	b := cborhead.Append(nil, 5, 1)
	b = cborhead.AppendText(b, "os")
	b = cborhead.Append(b, 4, uint64(len(entries)))
	for _, e := range entries {
		b = append(b, e...)
	}
	return b
}

func entryBytes(key string, v []byte) []byte {
	b := cborhead.AppendText(cborhead.Append(nil, 5, 1), key)
	return append(cborhead.Append(b, 2, uint64(len(v))), v...)
}

func entryRegion(pos, n uint64) []byte {
	b := cborhead.AppendText(cborhead.Append(nil, 5, 1), "s")
	b = cborhead.Append(b, 4, 2)
	return cborhead.Append(cborhead.Append(b, 0, pos), 0, n)
}

func TestResolveShared(t *testing.T) {
	shm := testShm(4096)
	copy(shm.fromPy.data[64:], "hello, shared world")
	fr := &frameReader{max: 1 << 20, shm: shm.fromPy}
	cases := []struct {
		name    string
		body    []byte
		want    []wire.Object
		freed   uint64
		wantErr bool
	}{
		{"region and inline values", sharedResult(entryBytes("d", []byte("abc")), entryRegion(64, 19), entryBytes("e", []byte("boom"))),
			[]wire.Object{{Data: []byte("abc")}, {Data: []byte("hello, shared world")}, {Err: []byte("boom")}}, 83, false},
		{"wrapped position", sharedResult(entryRegion(4096*3+64, 5)), []wire.Object{{Data: []byte("hello")}}, 4096*3 + 69, false},
		{"region outside the ring", sharedResult(entryRegion(4000, 200)), nil, 0, true},
		{"region larger than the ring", sharedResult(entryRegion(0, 5000)), nil, 0, true},
		{"region not a pair", sharedResult(append(cborhead.AppendText(cborhead.Append(nil, 5, 1), "s"), cborhead.Append(nil, 4, 1)...)), nil, 0, true},
		{"unknown key", sharedResult(entryBytes("x", []byte("a"))), nil, 0, true},
		{"trailing bytes", append(sharedResult(entryRegion(64, 5)), 0), nil, 0, true},
		{"truncated", sharedResult(entryRegion(64, 5))[:8], nil, 0, true},
		{"not a map", []byte{0x80}, nil, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			shm.fromPy.release(0)
			objs, err := fr.resolveShared(c.body)
			if c.wantErr {
				if !errors.Is(err, wire.ErrMalformed) {
					t.Fatalf("want a malformed-frame error, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			assertSameObjects(t, objs, c.want)
			if got := *shm.fromPy.freed; got != c.freed {
				t.Fatalf("freed = %d, want %d", got, c.freed)
			}
		})
	}
	// A resolved value is a copy: the ring may be reused at once.
	objs, err := fr.resolveShared(sharedResult(entryRegion(64, 5)))
	if err != nil {
		t.Fatal(err)
	}
	copy(shm.fromPy.data[64:], "XXXXX")
	if string(objs[0].Data) != "hello" {
		t.Fatalf("resolved value aliases the ring: %q", objs[0].Data)
	}
}

func FuzzResolveShared(f *testing.F) {
	f.Add(sharedResult(entryBytes("d", []byte("abc")), entryRegion(64, 19)))
	f.Add(sharedResult(entryRegion(1<<40, 7), entryBytes("e", []byte("x"))))
	f.Add(sharedResult())
	shm := testShm(4096)
	fr := &frameReader{max: 1 << 20, shm: shm.fromPy}
	f.Fuzz(func(t *testing.T, body []byte) {
		objs, err := fr.resolveShared(body)
		if err != nil {
			if !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("error is not ErrMalformed: %v", err)
			}
			return
		}
		for _, o := range objs {
			if len(o.Data) > 4096 && o.Err == nil && len(o.Data) > len(body) {
				t.Fatalf("value of %d bytes from a %d-byte body and a 4096-byte ring", len(o.Data), len(body))
			}
		}
	})
}
