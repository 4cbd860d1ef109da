package fraytest

import (
	"context"
	"fmt"
	"sync"

	"github.com/fray-go/fray"
)

// Everything the suite runs remotely is registered in the def*.go files (this one: the
// Recorder), at package level, under names that start with "fraytest.", so that a worker
// process built from the same test binary finds the same registry. Nothing in those files may
// be created inside a test function.

// --- Recorder: the cross-process counter, flag and barrier ----------------------------------

// recorderState is the state of the Recorder actor: named counters that tests and tasks bump
// and wait on. It is how the suite synchronizes and observes remote code without sleeps and
// without channels, which cannot cross process boundaries.
type recorderState struct {
	mu      sync.Mutex
	counts  map[string]int
	changed chan struct{} // closed and replaced on every change
}

// Recorder is a counter/barrier actor. Create it with recorderOptions (it needs concurrency so
// that a blocked Await does not hold up Incr).
var Recorder = fray.NewActor("fraytest.Recorder", func(ctx context.Context, _ struct{}) (*recorderState, error) {
	return &recorderState{counts: map[string]int{}, changed: make(chan struct{})}, nil
})

// recorderConcurrency is the Recorder's MaxConcurrency: enough for every blocked waiter the
// suite creates at once plus the calls that release them.
const recorderConcurrency = 64

// Incr adds one to a counter and returns the new value.
func (r *recorderState) Incr(_ context.Context, key string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[key]++
	close(r.changed)
	r.changed = make(chan struct{})
	return r.counts[key], nil
}

// Count returns a counter's value.
func (r *recorderState) Count(_ context.Context, key string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[key], nil
}

// AwaitArg names a counter and the value to wait for.
type AwaitArg struct {
	Key string
	N   int
}

// Await blocks until the counter reaches N (or the call's ctx ends) and returns its value.
func (r *recorderState) Await(ctx context.Context, a AwaitArg) (int, error) {
	for {
		r.mu.Lock()
		n, ch := r.counts[a.Key], r.changed
		r.mu.Unlock()
		if n >= a.N {
			return n, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return n, fmt.Errorf("fraytest: waiting for %q to reach %d (at %d): %w", a.Key, a.N, n, ctx.Err())
		}
	}
}

var (
	recIncr  = fray.NewMethod(Recorder, "Incr", (*recorderState).Incr)
	recCount = fray.NewMethod(Recorder, "Count", (*recorderState).Count)
	recAwait = fray.NewMethod(Recorder, "Await", (*recorderState).Await)
)

// Rec is a Recorder handle; tasks and actors receive it inside their arguments.
type Rec = fray.ActorHandle[recorderState]
