package fray

import (
	"context"
	"iter"
)

// AsCompleted yields the refs in the order they become ready (finished, successfully or
// not), each once, without fetching their values: it waits for readiness only, so a caller
// that keeps a bounded number of tasks pending (the "limit pending tasks" pattern) calls
// Get on each yielded ref when it needs the value. The iterator ends after the last ref,
// when the loop body breaks, or with ctx's error (yielded once as the second value) when
// ctx is done; it starts no goroutine, so breaking out leaks nothing. Duplicate or zero
// refs give the ErrInvalidArgument error of Wait.
func AsCompleted[T any](ctx context.Context, refs []Ref[T]) iter.Seq2[Ref[T], error] {
	return func(yield func(Ref[T], error) bool) {
		pending := append([]Ref[T](nil), refs...)
		for len(pending) > 0 {
			ready, rest, err := WaitRefs(ctx, pending, 1, Forever)
			if err != nil {
				var zero Ref[T]
				yield(zero, err)
				return
			}
			for _, r := range ready {
				if !yield(r, nil) {
					return
				}
			}
			pending = rest
		}
	}
}
