package fray

import (
	"context"
	"fmt"
	"iter"
	"runtime"

	"github.com/fray-go/fray/backend"
)

// AsCompleted yields the refs in the order they become ready (finished, successfully or
// not), each once, without fetching their values: it waits for readiness only, so a caller
// that keeps a bounded number of tasks pending (the "limit pending tasks" pattern) calls
// Get on each yielded ref when it needs the value. The iterator ends after the last ref,
// when the loop body breaks, or with ctx's error (yielded once as the second value) when
// ctx is done; it starts no goroutine, so breaking out leaks nothing. Duplicate or zero
// refs give the ErrInvalidArgument error of Wait.
//
// Over n refs it costs O(n) in all on a backend that implements backend.ReadyWatcher (the local
// backend does; on Ray the ids cross to the bridge once, and each round there is one
// ray.wait over what is still pending); elsewhere each round waits once on the refs still
// pending and yields every ref that round found ready.
func AsCompleted[T any](ctx context.Context, refs []Ref[T]) iter.Seq2[Ref[T], error] {
	return func(yield func(Ref[T], error) bool) {
		if len(refs) == 0 {
			return
		}
		var zero Ref[T]
		jc, ids, err := asCompletedIDs(ctx, refs)
		if err != nil {
			yield(zero, err)
			return
		}
		defer runtime.KeepAlive(refs)
		if ctx.Err() != nil {
			yield(zero, mapCtxErr("wait", ctx.Err()))
			return
		}
		if w, ok := jc.(backend.ReadyWatcher); ok {
			set, err := w.WatchReady(ctx, ids)
			if err != nil {
				yield(zero, err)
				return
			}
			defer set.Close()
			for range refs {
				i, err := set.Next(ctx)
				if err != nil {
					yield(zero, mapCtxErr("wait", err))
					return
				}
				if !yield(refs[i], nil) {
					return
				}
			}
			return
		}
		// The generic loop: one Wait over what is pending per round, yielding every ref the
		// backend reports ready (Wait's answer flags them all, not just the first).
		pending := make([]int, len(refs))
		for i := range pending {
			pending[i] = i
		}
		pids := make([]backend.ObjectID, 0, len(ids))
		for len(pending) > 0 {
			pids = pids[:0]
			for _, i := range pending {
				pids = append(pids, ids[i])
			}
			mask, err := jc.Wait(ctx, pids, 1, backend.Forever)
			if err == nil && ctx.Err() != nil {
				err = ctx.Err()
			}
			if err != nil {
				yield(zero, mapCtxErr("wait", err))
				return
			}
			rest := pending[:0]
			var ready []int
			for k, i := range pending {
				if mask[k] {
					ready = append(ready, i)
				} else {
					rest = append(rest, i)
				}
			}
			pending = rest
			for _, i := range ready {
				if !yield(refs[i], nil) {
					return
				}
			}
		}
	}
}

// asCompletedIDs checks refs as Wait does and returns their job context and ids.
func asCompletedIDs[T any](ctx context.Context, refs []Ref[T]) (backend.JobContext, []backend.ObjectID, error) {
	jc, err := resolveJC(ctx, refs[0].c)
	if err != nil {
		return nil, nil, err
	}
	ids := make([]backend.ObjectID, len(refs))
	seen := make(map[backend.ObjectID]bool, len(refs))
	for i, r := range refs {
		c := r.c
		if c == nil {
			return nil, nil, newKind(ErrInvalidArgument, fmt.Sprintf("fray: AsCompleted: refs[%d] is the zero Ref", i))
		}
		if c.job != jc.JobID() {
			return nil, nil, foreignRef("ref", string(c.id), c.job, jc)
		}
		if seen[c.id] {
			return nil, nil, newKind(ErrInvalidArgument, fmt.Sprintf("fray: AsCompleted: ref %s appears more than once; pass each ref once", c.id))
		}
		seen[c.id] = true
		ids[i] = c.id
	}
	return jc, ids, nil
}
