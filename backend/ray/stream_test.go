package ray_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/backend/ray"
	"github.com/fray-go/fray/internal/osproc"
)

// StreamItem is one item of RStream: the Go child's pid and the item's index.
type StreamItem struct {
	PID, I int
}

// RStream yields {pid, i} for i = 0, 1, ... until its yield fails, writing the file
// "yielded-<i>" into dir after each yield returned.
var RStream = fray.NewStreamTask("raytest.stream", func(ctx context.Context, dir string, yield func(StreamItem) error) error {
	for i := 0; ; i++ {
		if err := yield(StreamItem{PID: os.Getpid(), I: i}); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "yielded-"+strconv.Itoa(i)), nil, 0o600); err != nil {
			return err
		}
	}
})

// TestStreamChildKilled kills the Go child of a Ray streaming generator task mid-stream:
// the items it had delivered still arrive, in order, then a *fray.WorkerDiedError (Ray's
// worker crash; streams are not retried).
func TestStreamChildKilled(t *testing.T) {
	_, ctx := connect(t, ray.Options{})
	dir := t.TempDir()
	const bound = 2
	st, err := RStream.Remote(ctx, dir, fray.StreamOptions{Backpressure: bound})
	if err != nil {
		t.Fatal(err)
	}
	first, err := st.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Items 1..bound are delivered and unconsumed; the producer waits in its next yield.
	for path := filepath.Join(dir, "yielded-"+strconv.Itoa(bound)); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("waiting for %s: %v", path, ctx.Err())
		}
	}
	if err := osproc.Kill(first.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	next := 1
	for {
		v, err := st.Next(ctx)
		if err != nil {
			if !errors.Is(err, fray.ErrWorkerDied) {
				t.Fatalf("after the kill: %v (%T), want an error matching fray.ErrWorkerDied", err, err)
			}
			break
		}
		if v.I != next || v.PID != first.PID {
			t.Fatalf("item %+v after the kill, want index %d from pid %d", v, next, first.PID)
		}
		next++
	}
	if next <= bound {
		t.Fatalf("only items 1..%d arrived after the kill; %d were delivered before it", next-1, bound)
	}
	if v, err := Square.Call(ctx, 6); err != nil || v != 36 {
		t.Fatalf("after the kill: %d, %v", v, err)
	}
}

// TestAsCompletedWatch: AsCompleted through the bridge's watch (backend.ReadyWatcher) yields
// each of many refs once, failed ones included, without fetching any value; breaking out
// early ends the watch.
func TestAsCompletedWatch(t *testing.T) {
	jc, ctx := connect(t, ray.Options{})
	var refs []fray.Ref[int]
	for i := range 60 {
		var r fray.Ref[int]
		var err error
		if i%10 == 3 {
			r, err = Fail.Remote(ctx, "boom")
		} else {
			r, err = Square.Remote(ctx, i)
		}
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	before, err := jc.ObjectsFetched(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[backend.ObjectID]bool{}
	for r, err := range fray.AsCompleted(ctx, refs) {
		if err != nil {
			t.Fatal(err)
		}
		if seen[r.ID()] {
			t.Fatalf("%s yielded twice", r.ID())
		}
		seen[r.ID()] = true
	}
	if len(seen) != len(refs) {
		t.Fatalf("yielded %d of %d refs", len(seen), len(refs))
	}
	if after, err := jc.ObjectsFetched(ctx); err != nil || after != before {
		t.Fatalf("AsCompleted fetched %d values (%v), want none", after-before, err)
	}
	for range fray.AsCompleted(ctx, refs) {
		break
	}
	if v, err := refs[2].Get(ctx); err != nil || v != 4 {
		t.Fatalf("Get after an early break: %d, %v", v, err)
	}
}
