package fray_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/backend/local"
)

// Inc adds one.
var Inc = fray.NewTask("examples.inc", func(ctx context.Context, x int) (int, error) { return x + 1, nil })

// gate holds Held until the test closes it (the tests run tasks in this process).
var gate = make(chan struct{})

// Held returns 0 once gate is closed.
var Held = fray.NewTask("examples.held", func(ctx context.Context, _ struct{}) (int, error) {
	select {
	case <-gate:
		return 0, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
})

// counting wraps a job context and counts what AsCompleted asks of it.
type counting struct {
	backend.JobContext
	waitCalls, waitIDs int
}

func (c *counting) Wait(ctx context.Context, ids []backend.ObjectID, n int, timeout time.Duration) ([]bool, error) {
	c.waitCalls++
	c.waitIDs += len(ids)
	return c.JobContext.Wait(ctx, ids, n, timeout)
}

// watching is counting for a backend that implements backend.ReadyWatcher.
type watching struct {
	*counting
	w                   backend.ReadyWatcher
	watchCalls, watched int
	after               func() // runs once the watch is registered
}

func (c *watching) WatchReady(ctx context.Context, ids []backend.ObjectID) (backend.ReadySet, error) {
	c.watchCalls++
	c.watched += len(ids)
	s, err := c.w.WatchReady(ctx, ids)
	if c.after != nil {
		c.after()
	}
	return s, err
}

// chain submits n tasks, each taking the previous one's result as its argument, so that
// they complete strictly one after another, the first once gate is closed.
func chain(t *testing.T, ctx context.Context, n int) []fray.Ref[int] {
	t.Helper()
	first, err := Held.Remote(ctx, struct{}{})
	if err != nil {
		t.Fatal(err)
	}
	refs := make([]fray.Ref[int], n)
	prev := first
	for i := range refs {
		r, err := Inc.RemoteRef(ctx, prev)
		if err != nil {
			t.Fatal(err)
		}
		refs[i], prev = r, r
	}
	// In reverse, so that input order is not completion order.
	for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
		refs[i], refs[j] = refs[j], refs[i]
	}
	return refs
}

// TestAsCompletedLinear: over a chain of n tasks that complete one after another,
// AsCompleted yields them in completion order, and on a backend.ReadyWatcher (the local
// backend) asks for n ids in all and never re-waits on the pending set (the old loop sent
// about n*n/2 ids to Wait). A backend without ReadyWatcher gets the Wait loop, which yields
// every ref a round finds ready.
func TestAsCompletedLinear(t *testing.T) {
	const n = 300
	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 2}, DirectValues: true})
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()
	for _, tc := range []struct {
		name  string
		watch bool
	}{{"ReadyWatcher", true}, {"WaitLoop", false}} {
		t.Run(tc.name, func(t *testing.T) {
			c := &counting{JobContext: jc}
			var wrapped backend.JobContext = c
			gate = make(chan struct{})
			w := &watching{counting: c, w: jc, after: func() { close(gate) }}
			if tc.watch {
				wrapped = w
			} else {
				close(gate)
			}
			ctx, cancel := context.WithTimeout(fray.WithJobContext(context.Background(), wrapped), time.Minute)
			defer cancel()
			refs := chain(t, ctx, n)
			want, seen := 1, map[int]bool{}
			for r, err := range fray.AsCompleted(ctx, refs) {
				if err != nil {
					t.Fatal(err)
				}
				v, err := r.Get(ctx)
				if err != nil || seen[v] {
					t.Fatalf("ref holding %d yielded again, or %v", v, err)
				}
				// The watcher saw every completion one by one, in order; a Wait round
				// yields what it found ready in input order.
				if tc.watch && v != want {
					t.Fatalf("ref %d in completion order holds %d", want, v)
				}
				seen[v] = true
				want++
			}
			if len(seen) != n {
				t.Fatalf("AsCompleted yielded %d refs, want %d", len(seen), n)
			}
			if tc.watch {
				if c.waitCalls != 0 || w.watchCalls != 1 || w.watched != n {
					t.Fatalf("AsCompleted on a ReadyWatcher: %d Wait calls, %d WatchReady calls over %d ids; want 0, 1, %d", c.waitCalls, w.watchCalls, w.watched, n)
				}
				return
			}
			// Each round asks only for what is still pending and yields all it found ready.
			if c.waitCalls > n || c.waitIDs > n*(n+1)/2 {
				t.Fatalf("the Wait loop made %d calls over %d ids", c.waitCalls, c.waitIDs)
			}
		})
	}
}

// TestAsCompletedReadyAtOnce: refs that are all ready cost one round, not one per ref.
func TestAsCompletedReadyAtOnce(t *testing.T) {
	jc, err := local.New(local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()
	c := &counting{JobContext: jc}
	ctx := fray.WithJobContext(context.Background(), c)
	refs := make([]fray.Ref[int], 500)
	for i := range refs {
		if refs[i], err = fray.Put(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	seen := 0
	for _, err := range fray.AsCompleted(ctx, refs) {
		if err != nil {
			t.Fatal(err)
		}
		seen++
	}
	if seen != len(refs) || c.waitCalls != 1 || c.waitIDs != len(refs) {
		t.Fatalf("yielded %d refs with %d Wait calls over %d ids; want %d with 1 call over %d", seen, c.waitCalls, c.waitIDs, len(refs), len(refs))
	}
	// Breaking out early unregisters the watcher: the job context still closes cleanly.
	for range fray.AsCompleted(fray.WithJobContext(context.Background(), jc), refs) {
		break
	}
	dup := []fray.Ref[int]{refs[0], refs[0]}
	for _, err := range fray.AsCompleted(ctx, dup) {
		if !errors.Is(err, fray.ErrInvalidArgument) {
			t.Fatalf("duplicates: %v", err)
		}
	}
}
