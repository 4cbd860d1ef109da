// Waiting for objects: Get and Wait, and the pooled waiters they block on.

package local

import (
	"context"
	"sync"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

// Get waits for every object; values that are ready are returned even when ctx is done.
func (j *JobContext) Get(ctx context.Context, ids []backend.ObjectID) ([]backend.Object, error) {
	if j.closed.Load() {
		return nil, errClosed
	}
	j.fetched.Add(int64(len(ids)))
	out := make([]backend.Object, len(ids))
	var pbuf [4]*object
	var ibuf [4]int
	pending, pendingIdx := pbuf[:0], ibuf[:0]
	j.mu.Lock()
	for i, id := range ids {
		o, ok := j.objectLocked(id)
		if !ok {
			j.mu.Unlock()
			return nil, unknownObject(id)
		}
		if o.done {
			out[i] = backend.Object{Payload: o.val, Err: o.err}
		} else {
			pending = append(pending, o)
			pendingIdx = append(pendingIdx, i)
		}
	}
	if len(pending) == 0 {
		j.mu.Unlock()
		return out, nil
	}
	w := newWaiter(len(pending))
	for _, o := range pending {
		o.addWaiter(w)
	}
	j.mu.Unlock()
	err := j.block(ctx, w, nil)
	j.mu.Lock()
	defer j.mu.Unlock()
	unregister(w, pending)
	freeWaiter(w)
	if err != nil {
		return nil, err
	}
	for k, o := range pending {
		out[pendingIdx[k]] = backend.Object{Payload: o.val, Err: o.err}
	}
	return out, nil
}

var waiters = sync.Pool{New: func() any { return &waiter{ch: make(chan struct{}, 1)} }}

func newWaiter(need int) *waiter {
	w := waiters.Get().(*waiter)
	w.need = need
	return w
}

// freeWaiter recycles w once no object refers to it any more (after unregister, with j.mu
// held, so that no completion can signal it again).
func freeWaiter(w *waiter) {
	select {
	case <-w.ch:
	default:
	}
	waiters.Put(w)
}

// unregister removes w from the objects that are still pending; j.mu is held.
func unregister(w *waiter, objs []*object) {
	for _, o := range objs {
		if o.done || o.wait == nil {
			continue
		}
		ws := o.wait.waiters
		for i, x := range ws {
			if x == w {
				last := len(ws) - 1
				ws[i] = ws[last]
				ws[last] = nil
				o.wait.waiters = ws[:last]
				break
			}
		}
	}
}

// block waits for w, ctx, a timer or the job closing. A task blocked here lends its CPU to
// the node meanwhile.
func (j *JobContext) block(ctx context.Context, w *waiter, timer <-chan time.Time) error {
	if t := runningTask(ctx, j.c); t != nil {
		defer j.c.lendCPU(t)()
	}
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timer:
		return nil
	case <-j.closedCh:
		return errClosed
	}
}

// Wait reports which objects are ready once numReturns are, the timeout passes or ctx is done.
func (j *JobContext) Wait(ctx context.Context, ids []backend.ObjectID, numReturns int, timeout time.Duration) ([]bool, error) {
	if j.closed.Load() {
		return nil, errClosed
	}
	mask := make([]bool, len(ids))
	objs := make([]*object, len(ids))
	ready := 0
	j.mu.Lock()
	for i, id := range ids {
		o, ok := j.objectLocked(id)
		if !ok {
			j.mu.Unlock()
			return nil, unknownObject(id)
		}
		objs[i] = o
		if o.done {
			mask[i] = true
			ready++
		}
	}
	if ready >= numReturns || timeout <= 0 || ctx.Err() != nil {
		j.mu.Unlock()
		return mask, nil
	}
	w := newWaiter(numReturns - ready)
	for _, o := range objs {
		if !o.done {
			o.addWaiter(w)
		}
	}
	j.mu.Unlock()
	var timer <-chan time.Time
	if timeout != fray.Forever {
		tm := time.NewTimer(timeout)
		defer tm.Stop()
		timer = tm.C
	}
	err := j.block(ctx, w, timer)
	j.mu.Lock()
	defer j.mu.Unlock()
	unregister(w, objs)
	freeWaiter(w)
	if err != nil && !isCtxErr(ctx, err) {
		return nil, err
	}
	for i, o := range objs {
		mask[i] = o.done
	}
	return mask, nil
}

func isCtxErr(ctx context.Context, err error) bool { return ctx.Err() != nil && err == ctx.Err() }
