package local

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

// Streaming tasks and actor methods (backend.StreamJobContext). A stream is an ordinary task or
// actor call (same scheduling, resources, worker processes, cancellation and job closing)
// whose running function sends its items, through the backend.StreamEmitter in its ctx, into a
// streamBuf that the caller reads. The task's object completing ends the stream: its error
// (or io.EOF) comes after the items. In a worker process the items travel as StreamItem
// frames (internal/wire), which the worker's parent feeds to the same emitter.

var _ backend.StreamJobContext = (*JobContext)(nil)

// SubmitStreamTask runs a streaming task.
func (j *JobContext) SubmitStreamTask(ctx context.Context, spec backend.TaskSpec, s backend.StreamSpec) (backend.StreamReader, error) {
	b := newStreamBuf(j, s)
	if _, err := j.submitTask(ctx, spec, b); err != nil {
		return nil, err
	}
	return b, nil
}

// CallActorStream runs a streaming actor method.
func (j *JobContext) CallActorStream(ctx context.Context, call backend.ActorCall, s backend.StreamSpec) (backend.StreamReader, error) {
	b := newStreamBuf(j, s)
	if _, err := j.callActor(ctx, call, b); err != nil {
		return nil, err
	}
	return b, nil
}

// checkStreaming refuses a function whose kind of call does not match the request.
func checkStreaming(fn *backend.Function, stream *streamBuf) error {
	if fn.Streaming == (stream != nil) {
		return nil
	}
	if fn.Streaming {
		return fmt.Errorf("local: %w: %s is a streaming function: call it through fray.NewStreamTask / NewStreamMethod's Remote", fray.ErrInvalidArgument, fn.Name)
	}
	return fmt.Errorf("local: %w: %s is not a streaming function", fray.ErrInvalidArgument, fn.Name)
}

// streamBuf is the buffer between a stream's producer and its reader. Lock order: the job
// context's mutex before b.mu (finish runs under the former); b.mu is never held while
// calling into the job context.
type streamBuf struct {
	j      *JobContext
	id     backend.ObjectID // the producing task's object; set before the task can run
	limit  int              // > 0: unconsumed items before emit blocks; -1: no bound
	direct bool

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every change
	items     []backend.Payload
	done      bool  // the producing task's object completed
	err       error // with done: its error
	cancelled bool  // the reader cancelled
	ended     bool  // Next returned the end
	released  bool  // the task's object was released
}

func newStreamBuf(j *JobContext, s backend.StreamSpec) *streamBuf {
	limit := s.Backpressure
	if limit == 0 {
		limit = fray.DefaultStreamBackpressure
	}
	return &streamBuf{j: j, limit: limit, direct: j.direct, changed: make(chan struct{})}
}

func (b *streamBuf) broadcastLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// streamCtx gives a task attempt's context the emitter of t's stream, if t is one.
func (t *task) streamCtx(ctx *taskCtx) context.Context {
	if t.stream == nil {
		return ctx
	}
	return backend.WithStreamEmitter(ctx, t.stream.emit)
}

// emit is the producer's backend.StreamEmitter: it appends item once fewer than limit items
// wait unconsumed. In codec mode a Go value is encoded here, so a value that would not
// reach a remote consumer fails the yield.
func (b *streamBuf) emit(ctx context.Context, item backend.Payload) error {
	if !b.direct && item.Data == nil {
		d, err := item.Encoded(fray.Marshal)
		if err != nil {
			return err
		}
		item = backend.Payload{Data: d}
	}
	b.mu.Lock()
	for {
		switch {
		case b.cancelled:
			b.mu.Unlock()
			return &fray.CancelledError{TaskID: string(b.id)}
		case b.done:
			b.mu.Unlock()
			return fmt.Errorf("local: %w: stream %s has ended (its task was cancelled or its job context closed)", fray.ErrCancelled, b.id)
		case b.limit < 0 || len(b.items) < b.limit:
			b.items = append(b.items, item)
			b.broadcastLocked()
			b.mu.Unlock()
			return nil
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		b.mu.Lock()
	}
}

// finish ends the stream with the producing task's outcome; the job context's mutex is held.
func (b *streamBuf) finish(err error) {
	b.mu.Lock()
	if !b.done {
		b.done, b.err = true, err
		b.broadcastLocked()
	}
	b.mu.Unlock()
}

// Next returns the next item, then the end.
func (b *streamBuf) Next(ctx context.Context) (backend.Payload, error) {
	var unlend func()
	defer func() {
		if unlend != nil {
			unlend()
		}
	}()
	b.mu.Lock()
	for {
		switch {
		case b.cancelled:
			b.mu.Unlock()
			return backend.Payload{}, &fray.CancelledError{TaskID: string(b.id)}
		case len(b.items) > 0:
			p := b.items[0]
			b.items[0] = backend.Payload{}
			b.items = b.items[1:]
			b.broadcastLocked()
			b.mu.Unlock()
			return p, nil
		case b.done:
			err := b.err
			b.ended = true
			b.mu.Unlock()
			b.release()
			if err == nil {
				err = io.EOF
			}
			return backend.Payload{}, err
		}
		ch := b.changed
		b.mu.Unlock()
		if unlend == nil {
			// A task blocked here lends its CPU to the node, as in Get.
			if t := runningTask(ctx, b.j.c); t != nil {
				unlend = b.j.c.lendCPU(t)
			} else {
				unlend = func() {}
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return backend.Payload{}, ctx.Err()
		}
		b.mu.Lock()
	}
}

// Cancel stops the producer and drops unconsumed items.
func (b *streamBuf) Cancel() error {
	b.mu.Lock()
	if b.ended || b.cancelled {
		b.mu.Unlock()
		b.release()
		return nil
	}
	b.cancelled = true
	b.items = nil
	done := b.done
	b.broadcastLocked()
	b.mu.Unlock()
	if !done {
		_ = b.j.Cancel(context.Background(), b.id, false) // a closed job context has cancelled it already
	}
	b.release()
	return nil
}

// release drops the job context's entry for the task's object, once.
func (b *streamBuf) release() {
	b.mu.Lock()
	r := b.released
	b.released = true
	b.mu.Unlock()
	if !r {
		b.j.Release([]backend.ObjectID{b.id})
	}
}

// The nestedHost serves streams that code in worker processes consumes, like its other nested
// calls: in the calling task's job context.
var _ backend.StreamJobContext = (*nestedHost)(nil)

func (r *nestedHost) SubmitStreamTask(ctx context.Context, spec backend.TaskSpec, s backend.StreamSpec) (backend.StreamReader, error) {
	j, ctx, err := r.route(ctx)
	if err != nil {
		return nil, err
	}
	return j.SubmitStreamTask(ctx, spec, s)
}

func (r *nestedHost) CallActorStream(ctx context.Context, call backend.ActorCall, s backend.StreamSpec) (backend.StreamReader, error) {
	j, ctx, err := r.route(ctx)
	if err != nil {
		return nil, err
	}
	return j.CallActorStream(ctx, call, s)
}
