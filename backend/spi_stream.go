package backend

import (
	"context"
)

// This file is the optional streaming part of the SPI (the database/sql habit: a
// JobContext that does not implement StreamJobContext makes fray's StreamTask.Remote and
// StreamMethod.Remote fail with a *fray.UnsupportedError). fray's stream.go is the typed API.

// StreamSpec adjusts one streaming call, as the API resolved it from StreamOptions.
type StreamSpec struct {
	// Backpressure is how many produced items may wait unconsumed before the producer's
	// next yield blocks: > 0 bounds it, -1 means no bound (the API resolves the default).
	Backpressure int
}

// StreamJobContext is what a JobContext implements to run streaming tasks and actor
// methods (registered with fray.NewStreamTask and fray.NewStreamMethod). The spec and call
// are checked and defaulted by the API as for SubmitTask and CallActor; the function is a
// streaming one (Function.Streaming).
type StreamJobContext interface {
	JobContext
	// SubmitStreamTask runs a streaming task and returns the reader of its items.
	SubmitStreamTask(ctx context.Context, spec TaskSpec, s StreamSpec) (StreamReader, error)
	// CallActorStream runs a streaming actor method and returns the reader of its items.
	CallActorStream(ctx context.Context, call ActorCall, s StreamSpec) (StreamReader, error)
}

// StreamReader is the consumer's end of one running stream. Implementations must be
// safe for concurrent use.
type StreamReader interface {
	// Next blocks until the next item and returns it. After the last item it returns
	// io.EOF when the producer returned nil, and the producer's failure otherwise (a
	// *fray.TaskError, *fray.WorkerDiedError, *fray.ActorDiedError, *fray.CancelledError,
	// ...), every time it
	// is called again. ctx being done ends the wait with ctx's error and leaves the stream
	// as it was.
	Next(ctx context.Context) (Payload, error)
	// Cancel stops the producer (its ctx is cancelled and its next yield fails) and drops
	// the items not yet consumed; Next then returns a *fray.CancelledError. Cancelling a stream
	// that has ended only releases what the backend still holds for it. Idempotent.
	Cancel() error
}

// StreamEmitter takes one item of a running stream producer: the backend puts it
// in the producer's ctx with WithStreamEmitter, and the function registered with
// fray.NewStreamTask or NewStreamMethod calls it for every yield, with Payload.Value holding the
// Go value (a backend that sends items elsewhere encodes it: Payload.Encoded). It blocks
// while the stream's backpressure bound is reached, and returns an error once the stream
// was cancelled or ctx is done; the producer's yield returns that error.
type StreamEmitter func(ctx context.Context, item Payload) error

type streamEmitterKey struct{}

// WithStreamEmitter returns a copy of ctx carrying emit, for a backend about to call
// Function.Invoke on a streaming function.
func WithStreamEmitter(ctx context.Context, emit StreamEmitter) context.Context {
	return context.WithValue(ctx, streamEmitterKey{}, emit)
}

// StreamEmitterFrom returns the emitter WithStreamEmitter put in ctx, or nil.
func StreamEmitterFrom(ctx context.Context) StreamEmitter {
	e, _ := ctx.Value(streamEmitterKey{}).(StreamEmitter)
	return e
}
