package ray

import (
	"bytes"
	"os"
	"testing"
	"unsafe"

	"github.com/fray-go/fray/internal/wire/cborhead"
)

// entryPinned encodes a {"v": [address, n, seq]} object as the bridge does.
func entryPinned(addr, n, seq uint64) []byte {
	b := cborhead.AppendText(cborhead.Append(nil, 5, 1), "v")
	b = cborhead.Append(b, 4, 3)
	return cborhead.Append(cborhead.Append(cborhead.Append(b, 0, addr), 0, n), 0, seq)
}

// TestResolveCrossMemory reads values named by address, here in this very process (which
// may read its own memory), next to inline and ring values, and publishes the last
// sequence number as copied.
func TestResolveCrossMemory(t *testing.T) {
	src1 := bytes.Repeat([]byte("v"), 100<<10)
	src2 := []byte("second pinned value")
	addr := func(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(&b[0]))) }
	shm := testShm(1 << 20)
	r := &frameReader{shm: shm.fromPy, max: 8 << 20}
	var freed uint64
	r.vm.Store(&vmPeer{pid: os.Getpid(), freed: &freed})
	if !probeCrossMemory(os.Getpid(), addr(src2), src2) {
		t.Fatal("probe of this process's own memory failed")
	}
	body := sharedResult(entryPinned(addr(src1), uint64(len(src1)), 6), entryBytes("d", []byte("inline")),
		entryPinned(addr(src2), uint64(len(src2)), 7))
	objs, err := r.resolveShared(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 3 || !bytes.Equal(objs[0].Data, src1) || string(objs[1].Data) != "inline" || !bytes.Equal(objs[2].Data, src2) {
		t.Fatalf("resolved %d objects, not the values named", len(objs))
	}
	if freed != 7 {
		t.Fatalf("published %d as copied, want 7", freed)
	}
	src1[0] = 'w' // the answer's buffers are copies
	if objs[0].Data[0] != 'v' {
		t.Fatal("a resolved value aliases the peer's memory")
	}
	pair := cborhead.Append(cborhead.AppendText(cborhead.Append(nil, 5, 1), "v"), 4, 2)
	pair = cborhead.Append(cborhead.Append(pair, 0, addr(src2)), 0, 4)
	for _, c := range []struct {
		name string
		body []byte
	}{
		{"not a triple", sharedResult(pair)},
		{"unreadable address", sharedResult(entryPinned(1<<12, 64, 8))},
		{"over the frame limit", sharedResult(entryPinned(addr(src2), 1<<30, 9))},
	} {
		if _, err := r.resolveShared(c.body); err == nil {
			t.Errorf("%s: resolved without an error", c.name)
		}
	}
	r.vm.Store(nil)
	if _, err := r.resolveShared(sharedResult(entryPinned(addr(src2), uint64(len(src2)), 10))); err == nil {
		t.Error("a value in the bridge's memory resolved in a session that does not read it")
	}
}
