// Package actorpool runs calls of one actor method over a pool of actors of one class: the
// Go form of Ray's ActorPool (map, map_unordered, submit and get_next) and the engine under
// batch inference (processing/shards.RunBatches, the counterpart of Ray Data's
// map_batches over model actors). It is built on fray's public API only, so it works on
// every backend.
//
//	var Model = fray.NewActor("app.Model", func(ctx context.Context, path string) (*ModelState, error) {
//		return loadModel(ctx, path) // once per actor
//	})
//	var Predict = fray.NewMethod(Model, "Predict", (*ModelState).Predict)
//
//	pool, err := actorpool.New(ctx, Model, "/models/m.bin", Predict, actorpool.Options{
//		Size:  4,
//		Actor: fray.ActorOptions{Resources: fray.Resources{"GPU": 1}},
//	})
//	defer pool.Close()
//	outs, err := pool.Map(ctx, inputs) // in input order
//
// # Backpressure
//
// Each actor has at most Options.MaxInFlight calls submitted and unfinished; a call goes to
// the live actor with the fewest (ties in turn). Submit, and the feeding of Map,
// MapUnordered and MapSeq, block until an actor has room, so a producer can never run
// ahead of the actors by more than Size × MaxInFlight items. MapSeq reads its input lazily,
// which keeps memory bounded however long the input is.
//
// # Actor death
//
// When a call fails because its actor died (fray.ErrActorDied, not restarting), the pool
// drops that actor, creates a replacement with the same constructor argument and options
// (at most Options.MaxReplacements over the pool's life), and runs the item again on a
// live actor, up to Options.MaxRetries times per item; after that the item fails with a
// *RetriesExhaustedError. When no actor is left and no replacement may be made, waiting
// items fail with a *NoActorsError. An item is therefore run at least once and possibly
// more than once (a dead actor may have finished part of it): make calls idempotent. An
// actor reported as restarting (fray.ActorOptions.MaxRestarts) is kept, and the item is
// retried. Errors the method itself returns (*fray.TaskError) are never retried: they are
// the item's result.
//
// # Cancellation and Close
//
// Cancelling the ctx of Map, MapUnordered or MapSeq (or stopping a range over their
// results early) cancels the items in flight (fray.Cancel, best effort) and returns once
// the pool has let go of all of them. Calls made with Submit run under the pool's own
// context. Close cancels everything in flight, waits for the pool's goroutines to end and
// kills the actors; it leaves no goroutine behind. See MIGRATION.md, "Actor pools and
// batch inference".
package actorpool
