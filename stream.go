package fray

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"reflect"
	"runtime"
	"sync"

	"github.com/fray-go/fray/backend"
)

// Streaming tasks and actor methods yield a sequence of values that the caller consumes as
// they are produced: the Go counterpart of Ray's generators with num_returns="streaming"
// (MIGRATION.md, "Streaming results").
//
//	var Count = fray.NewStreamTask("examples.count", func(ctx context.Context, n int, yield func(int) error) error {
//		for i := range n {
//			if err := yield(i); err != nil {
//				return err // the stream was cancelled
//			}
//		}
//		return nil
//	})
//
//	s, err := Count.Remote(ctx, 3)
//	for v, err := range s.All(ctx) { ... } // 0, 1, 2
//
// The stream is back-pressured (StreamOptions.Backpressure): the producer's yield blocks
// while that many items wait unconsumed. A producer that fails delivers its error after
// the items it yielded, in order. Streaming tasks are not retried: the consumer has seen
// items of the failed attempt.

// DefaultStreamBackpressure is the number of unconsumed items a stream buffers before the
// producer's yield blocks, when StreamOptions.Backpressure is 0. (Ray's
// _generator_backpressure_num_objects defaults to no bound; fray bounds memory by default.)
const DefaultStreamBackpressure = 16

// StreamOptions configure one streaming call. The zero value means the defaults.
type StreamOptions struct {
	// Task configures the producing task (resources, name, runtime env, max calls) as
	// for Task.Remote. MaxRetries must be nil or 0 and RetryExceptions false: a stream is
	// not retried, since its consumer has seen the items of the failed attempt. Actor
	// method streams take the actor's resources and must leave Task zero.
	Task TaskOptions
	// Backpressure is how many produced items may wait unconsumed before the producer's
	// yield blocks (Ray's _generator_backpressure_num_objects): 0 means
	// DefaultStreamBackpressure, -1 no bound.
	Backpressure int
}

// spec validates and defaults the stream part of the options.
func (o StreamOptions) spec() (backend.StreamSpec, error) {
	switch {
	case o.Backpressure == 0:
		return backend.StreamSpec{Backpressure: DefaultStreamBackpressure}, nil
	case o.Backpressure > 0 || o.Backpressure == -1:
		return backend.StreamSpec{Backpressure: o.Backpressure}, nil
	}
	return backend.StreamSpec{}, newKind(ErrInvalidArgument, fmt.Sprintf("fray: StreamOptions.Backpressure must be > 0, 0 (default %d) or -1 (no bound), got %d", DefaultStreamBackpressure, o.Backpressure))
}

// streamFn adapts a typed producer to the registry's erased call: the items go to the
// StreamEmitter the backend put in ctx.
func streamFn[A, R any](name string, fn func(ctx context.Context, self any, arg A, yield func(R) error) error) func(ctx context.Context, self, arg any) (any, error) {
	return func(ctx context.Context, self, arg any) (any, error) {
		emit := backend.StreamEmitterFrom(ctx)
		if emit == nil {
			return nil, &UnsupportedError{Backend: "this", Feature: "running streaming function " + name + " as a plain call",
				Hint: "a backend runs it through backend.StreamJobContext with a StreamEmitter in its ctx"}
		}
		a, _ := arg.(A)
		return nil, fn(ctx, self, a, func(r R) error { return emit(ctx, backend.Payload{Value: r}) })
	}
}

// StreamTask is a registered streaming task taking A and yielding values of R. Declare it
// once, in a package-level variable, under a stable name (see NewStreamTask).
type StreamTask[A, R any] struct {
	fn      *backend.Function
	lateErr error
}

// NewStreamTask registers fn under name as a streaming task. fn calls yield for every
// value, in order; yield blocks while the stream's backpressure bound is reached and
// returns an error once the stream was cancelled (fn should then return it). What fn
// returns ends the stream: nil, or an error the consumer gets after the values, wrapped
// in a *TaskError. It panics if the name is already taken.
func NewStreamTask[A, R any](name string, fn func(ctx context.Context, arg A, yield func(R) error) error) *StreamTask[A, R] {
	checkName("task", name)
	f := &backend.Function{
		Name: name, Kind: backend.KindTask, Streaming: true, DefinedAt: callerLocation(),
		ArgType: reflect.TypeFor[A](), ResultType: reflect.TypeFor[R](),
	}
	call := streamFn(name, func(ctx context.Context, _ any, a A, yield func(R) error) error {
		return fn(ctx, a, yield)
	})
	return &StreamTask[A, R]{fn: f, lateErr: register(f, call, decoderFor[A]())}
}

// Name returns the registered name.
func (t *StreamTask[A, R]) Name() string { return t.fn.Name }

// Remote starts the task with arg and returns the stream of its values. At most one
// StreamOptions may be given. Errors here are about the submission (no job context, invalid
// options, a backend without streams: an *UnsupportedError); the task's own failure comes
// from the stream, after its values. ctx being done cancels the stream (as Cancel does),
// so a stream started with a task's ctx ends with that task.
func (t *StreamTask[A, R]) Remote(ctx context.Context, arg A, opts ...StreamOptions) (*Stream[R], error) {
	if t.lateErr != nil {
		return nil, t.lateErr
	}
	jc, err := JobContextFrom(ctx)
	if err != nil {
		return nil, err
	}
	o, err := oneOption(opts, "StreamOptions")
	if err != nil {
		return nil, err
	}
	spec, err := o.spec()
	if err != nil {
		return nil, fmt.Errorf("fray: stream task %s: %w", t.fn.Name, err)
	}
	to := o.Task
	if err := to.Validate(); err != nil {
		return nil, fmt.Errorf("fray: stream task %s: %w", t.fn.Name, err)
	}
	if (to.MaxRetries != nil && *to.MaxRetries != 0) || to.RetryExceptions {
		return nil, newKind(ErrInvalidArgument, fmt.Sprintf("fray: stream task %s: a stream is not retried (its consumer has seen the items of the failed attempt); leave StreamOptions.Task.MaxRetries nil and RetryExceptions false", t.fn.Name))
	}
	to.MaxRetries = Retries(0)
	sj, err := streamJC(jc, "stream task "+t.fn.Name)
	if err != nil {
		return nil, err
	}
	p, err := makePayload(jc, arg)
	if err != nil {
		return nil, fmt.Errorf("fray: stream task %s: argument: %w", t.fn.Name, err)
	}
	r, err := sj.SubmitStreamTask(ctx, backend.TaskSpec{Function: t.fn, Arg: p, Options: to.effective(t.fn.Name)}, spec)
	if err != nil {
		return nil, err
	}
	return newStream[R](ctx, t.fn.Name, r), nil
}

// StreamMethod is a registered streaming actor method of state S taking A and yielding
// values of R (see NewStreamMethod).
type StreamMethod[S, A, R any] struct {
	fn      *backend.Function
	lateErr error
}

// NewStreamMethod registers fn as streaming method name of actor class, registered as
// "<class>.<name>". fn is usually a method expression with the signature
// func(*S, context.Context, A, func(R) error) error; yield and the returned error behave as
// for NewStreamTask. The call holds the actor (one of its MaxConcurrency slots) until fn
// returns, so a stream of an actor with MaxConcurrency 1 that is not consumed blocks the
// actor's later calls.
func NewStreamMethod[S, CA, A, R any](actor *Actor[S, CA], name string, fn func(s *S, ctx context.Context, arg A, yield func(R) error) error) *StreamMethod[S, A, R] {
	checkName("method", name)
	full := actor.fn.Name + "." + name
	f := &backend.Function{
		Name: full, Kind: backend.KindMethod, Class: actor.fn.Name, Streaming: true,
		DefinedAt: callerLocation(),
		ArgType:   reflect.TypeFor[A](), ResultType: reflect.TypeFor[R](),
	}
	call := streamFn(full, func(ctx context.Context, self any, a A, yield func(R) error) error {
		s, ok := self.(*S)
		if !ok {
			return fmt.Errorf("fray: method %s called on %T", full, self)
		}
		return fn(s, ctx, a, yield)
	})
	return &StreamMethod[S, A, R]{fn: f, lateErr: register(f, call, decoderFor[A]())}
}

// Name returns the registered name, "<class>.<method>".
func (m *StreamMethod[S, A, R]) Name() string { return m.fn.Name }

// Remote calls the method on the actor and returns the stream of its values. At most one
// StreamOptions may be given, with Task zero. ctx being done cancels the stream.
func (m *StreamMethod[S, A, R]) Remote(ctx context.Context, h ActorHandle[S], arg A, opts ...StreamOptions) (*Stream[R], error) {
	if m.lateErr != nil {
		return nil, m.lateErr
	}
	jc, err := h.jc(ctx)
	if err != nil {
		return nil, err
	}
	if h.info.Class != m.fn.Class {
		return nil, newKind(ErrInvalidArgument, fmt.Sprintf("fray: method %s called on a %s actor", m.fn.Name, h.info.Class))
	}
	o, err := oneOption(opts, "StreamOptions")
	if err != nil {
		return nil, err
	}
	if !reflect.ValueOf(o.Task).IsZero() {
		return nil, newKind(ErrInvalidArgument, fmt.Sprintf("fray: stream method %s: StreamOptions.Task must be zero for an actor method (the call runs with the actor's resources)", m.fn.Name))
	}
	spec, err := o.spec()
	if err != nil {
		return nil, fmt.Errorf("fray: stream method %s: %w", m.fn.Name, err)
	}
	sj, err := streamJC(jc, "stream method "+m.fn.Name)
	if err != nil {
		return nil, err
	}
	p, err := makePayload(jc, arg)
	if err != nil {
		return nil, fmt.Errorf("fray: method %s: argument: %w", m.fn.Name, err)
	}
	r, err := sj.CallActorStream(ctx, backend.ActorCall{Actor: h.info.ID, Method: m.fn, Arg: p}, spec)
	if err != nil {
		return nil, err
	}
	return newStream[R](ctx, m.fn.Name, r), nil
}

func streamJC(jc backend.JobContext, what string) (backend.StreamJobContext, error) {
	sj, ok := jc.(backend.StreamJobContext)
	if !ok {
		return nil, &UnsupportedError{Backend: jc.Backend(), Feature: "streaming results (" + what + ")",
			Hint: "use a backend that implements backend.StreamJobContext (backend/local, backend/ray), or return a slice from a plain task"}
	}
	return sj, nil
}

// Stream is the consumer's end of a running streaming task or method: values of R in the
// order the producer yielded them, then the end (io.EOF) or the producer's error. It is
// safe for concurrent use; each value goes to one Next call. A Stream that becomes garbage
// before its end is cancelled.
type Stream[R any] struct {
	r    backend.StreamReader
	name string
	stop func() bool // stops the cancellation by the Remote ctx

	mu    sync.Mutex
	ended bool
}

type streamCleanup struct {
	r    backend.StreamReader
	stop func() bool
}

func newStream[R any](ctx context.Context, name string, r backend.StreamReader) *Stream[R] {
	s := &Stream[R]{r: r, name: name}
	s.stop = context.AfterFunc(ctx, func() { _ = r.Cancel() })
	runtime.AddCleanup(s, func(c streamCleanup) {
		c.stop()
		go func() { _ = c.r.Cancel() }() // may talk to the backend: not on the cleanup goroutine
	}, streamCleanup{r, s.stop})
	return s
}

// Name returns the registered name of the producing task or method.
func (s *Stream[R]) Name() string { return s.name }

// Next blocks until the producer's next value and returns it. After the last value it
// returns io.EOF if the producer returned nil, and otherwise the producer's error (a
// *TaskError wrapping what it returned, a *WorkerDiedError or *ActorDiedError when its
// process or actor died, a *CancelledError after Cancel), again on every later call. ctx
// bounds only this wait: its deadline gives a *TimeoutError and leaves the stream running.
// A value that cannot be decoded as R is a *SerializationError; the stream goes on.
func (s *Stream[R]) Next(ctx context.Context) (R, error) {
	var zero R
	p, err := s.r.Next(ctx)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return zero, mapCtxErr("stream", err)
		}
		s.end()
		return zero, err
	}
	return payloadAs[R](p)
}

// end releases the Remote ctx's hold once the stream has ended.
func (s *Stream[R]) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.ended = true
		s.stop()
	}
}

// All returns an iterator over the remaining values: each value with a nil error, and at
// the end nothing more (the producer returned nil) or one final pair carrying the error
// Next returned. Breaking out of the loop cancels the stream (the producer stops).
func (s *Stream[R]) All(ctx context.Context) iter.Seq2[R, error] {
	return func(yield func(R, error) bool) {
		for {
			v, err := s.Next(ctx)
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(v, err)
				return
			}
			if !yield(v, nil) {
				_ = s.Cancel()
				return
			}
		}
	}
}

// Cancel stops the producer (its ctx is cancelled and its next yield returns an error)
// and drops the values not yet consumed; Next then returns a *CancelledError. Cancelling a
// stream that has ended changes nothing for its consumer. It is idempotent.
func (s *Stream[R]) Cancel() error {
	s.end()
	return s.r.Cancel()
}
