package ray_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/backend/ray"
)

var (
	// Digest returns the SHA-256 of a (large) value: the worker side of a large argument.
	Digest = fray.NewTask("raytest.digest", func(ctx context.Context, b []byte) ([32]byte, error) { return sha256.Sum256(b), nil })
	// Blob returns n bytes of a pattern seeded by n: a large task result.
	Blob = fray.NewTask("raytest.blob", func(ctx context.Context, n int) ([]byte, error) { return pattern(n, n), nil })
)

func pattern(n, seed int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

// TestLargeValues moves values of many sizes between the driver and Ray: with a small
// shared-memory ring (so it wraps and fills many times, and values that do not fit take
// the pipe) and with shared memory off. Every value must come back intact, including
// values put long before they are read, whose ring space has since been reused.
func TestLargeValues(t *testing.T) {
	for _, c := range []struct {
		name string
		ring int
	}{{"small ring", 3 << 20}, {"pipes only", -1}} {
		t.Run(c.name, func(t *testing.T) {
			jc, ctx := connect(t, ray.Options{SharedMemory: c.ring})
			if want := c.ring > 0 && runtime.GOOS == "linux"; jc.SharedMemory() != want {
				t.Fatalf("SharedMemory() = %v, want %v", jc.SharedMemory(), want)
			}
			sizes := []int{1, 64<<10 - 1, 64 << 10, 1 << 20, 1<<20 + 3, 2 << 20, 5 << 20}
			var refs []fray.Ref[[]byte]
			var want [][]byte
			for round := 0; round < 4; round++ {
				for i, n := range sizes {
					v := pattern(n, round*100+i)
					r, err := fray.Put(ctx, v)
					if err != nil {
						t.Fatalf("put %d bytes: %v", n, err)
					}
					v[0] ^= 0xff // the caller may reuse its slice once Put returns
					v[0] ^= 0xff
					refs = append(refs, r)
					want = append(want, v)
				}
			}
			got, err := fray.GetAll(ctx, refs) // several large values in one answer
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("value %d (%d bytes) came back different (%d bytes)", i, len(want[i]), len(got[i]))
				}
			}
			for i := range refs { // and one at a time
				v, err := refs[i].Get(ctx)
				if err != nil || !bytes.Equal(v, want[i]) {
					t.Fatalf("get %d: %d bytes, %v", i, len(v), err)
				}
			}
			// a put value as a task's argument (Ray hands the shim a buffer over its store),
			// a large inline argument, and large task results
			for i, n := range []int{64 << 10, 3 << 20} {
				d1, err := Digest.RemoteRef(ctx, refs[len(sizes)+i+2])
				if err != nil {
					t.Fatal(err)
				}
				arg := pattern(n, 7)
				d2, err := Digest.Remote(ctx, arg)
				if err != nil {
					t.Fatal(err)
				}
				b, err := Blob.Remote(ctx, n)
				if err != nil {
					t.Fatal(err)
				}
				if v, err := d1.Get(ctx); err != nil || v != sha256.Sum256(want[len(sizes)+i+2]) {
					t.Fatalf("digest of a put value: %x, %v", v, err)
				}
				if v, err := d2.Get(ctx); err != nil || v != sha256.Sum256(arg) {
					t.Fatalf("digest of an argument: %x, %v", v, err)
				}
				if v, err := b.Get(ctx); err != nil || !bytes.Equal(v, pattern(n, n)) {
					t.Fatalf("blob(%d): %d bytes, %v", n, len(v), err)
				}
			}
		})
	}
}

// TestReleasedRefsAreFreed drops refs in bursts, as garbage collection does: the bridge
// must forget every one of them (its Ray ObjectRefs go, so Ray can free the objects),
// however the releases are batched into frames, and refs still held must stay readable.
func TestReleasedRefsAreFreed(t *testing.T) {
	jc, ctx := connect(t, ray.Options{})
	kept, err := fray.Put(ctx, 42)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]backend.ObjectID, 300)
	for i := range ids {
		r, err := fray.Put(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = r.ID() // only the id is kept: the Ref becomes garbage
	}
	forgotten := func() int {
		n := 0
		for _, id := range ids {
			if _, err := jc.Get(ctx, []backend.ObjectID{id}); errors.Is(err, fray.ErrInvalidArgument) {
				n++
			} else if err != nil {
				t.Fatalf("get of a released id: want ErrInvalidArgument, got %v", err)
			}
		}
		return n
	}
	deadline := time.Now().Add(time.Minute)
	for n := 0; n < len(ids); n = forgotten() {
		if time.Now().After(deadline) {
			t.Fatalf("the bridge still holds %d of %d released objects after a minute", len(ids)-n, len(ids))
		}
		runtime.GC() // runs the refs' cleanups, which release them
		time.Sleep(50 * time.Millisecond)
	}
	if v, err := kept.Get(ctx); err != nil || v != 42 {
		t.Fatalf("a ref still held: %d, %v", v, err)
	}
}
