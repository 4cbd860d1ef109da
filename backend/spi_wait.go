package backend

import "context"

// This file is an optional part of the SPI for fray.AsCompleted: a JobContext that
// implements ReadyWatcher reports each object as it becomes ready, so AsCompleted over n
// refs costs O(n) in all instead of one Wait over the whole pending set per ready ref. A
// backend without it gets the generic loop over JobContext.Wait.

// ReadyWatcher is a JobContext that can watch objects for readiness.
type ReadyWatcher interface {
	JobContext
	// WatchReady starts watching ids (distinct, of this job, checked by the API) for
	// readiness (finished, successfully or not), without fetching their values.
	WatchReady(ctx context.Context, ids []ObjectID) (ReadySet, error)
}

// ReadySet reports watched objects as they become ready, each once.
type ReadySet interface {
	// Next blocks until a watched object not reported yet is ready and returns its index
	// in the watched ids; io.EOF once every one was reported; ctx's error when ctx is done
	// first (the set stays usable).
	Next(ctx context.Context) (int, error)
	// Close stops watching. Idempotent.
	Close()
}
