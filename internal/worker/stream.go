package worker

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/streamend"
	"github.com/fray-go/fray/internal/wire"
)

// Streams consumed by code running in the worker (backend.StreamJobContext on the child's
// client) are nested requests: StreamSubmit or StreamCall start one in the parent's job
// context and name it by an id, StreamNext reads it (PROTOCOL.md, Streams). The parent
// keeps the readers in a table (streams) until the stream ends or the child lets go.

var _ backend.StreamJobContext = (*client)(nil)

// SubmitStreamTask starts a streaming task through the parent.
func (c *client) SubmitStreamTask(ctx context.Context, spec backend.TaskSpec, s backend.StreamSpec) (backend.StreamReader, error) {
	m := &wire.StreamSubmit{Submit: wire.Submit{Origin: origin(ctx), Function: spec.Function.Name, ArgRef: string(spec.ArgRef),
		Options: wire.FromTaskOptions(spec.Options)}, Backpressure: s.Backpressure}
	if spec.ArgRef == "" {
		b, err := spec.Arg.Encoded(fray.Marshal)
		if err != nil {
			return nil, err
		}
		m.Arg = b
	}
	res, err := c.do(ctx, wire.TypeStreamSubmit, m)
	if err != nil {
		return nil, err
	}
	return newChildStream(c, res.ObjectID), nil
}

// CallActorStream calls a streaming actor method through the parent.
func (c *client) CallActorStream(ctx context.Context, call backend.ActorCall, s backend.StreamSpec) (backend.StreamReader, error) {
	m := &wire.StreamCall{CallActorNested: wire.CallActorNested{Origin: origin(ctx), ActorID: string(call.Actor),
		Method: call.Method.Name, ArgRef: string(call.ArgRef)}, Backpressure: s.Backpressure}
	if call.ArgRef == "" {
		b, err := call.Arg.Encoded(fray.Marshal)
		if err != nil {
			return nil, err
		}
		m.Arg = b
	}
	res, err := c.do(ctx, wire.TypeStreamCall, m)
	if err != nil {
		return nil, err
	}
	return newChildStream(c, res.ObjectID), nil
}

// childStream reads a stream the parent holds for this worker.
type childStream struct {
	c  *client
	id string

	next sync.Mutex       // one StreamNext at a time
	end  *streamend.State // the end once seen; releases the parent's stream
}

func newChildStream(c *client, id string) *childStream {
	return &childStream{c: c, id: id, end: streamend.New(id, func() { c.Release([]backend.ObjectID{backend.ObjectID(id)}) })}
}

func (s *childStream) Next(ctx context.Context) (backend.Payload, error) {
	s.next.Lock()
	defer s.next.Unlock()
	if err := s.end.Ended(); err != nil {
		return backend.Payload{}, err
	}
	res, err := s.c.do(ctx, wire.TypeStreamNext, &wire.StreamNext{Origin: origin(ctx), ID: s.id})
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return backend.Payload{}, err
		}
		return backend.Payload{}, s.end.Finish(err)
	}
	if len(res.Objects) == 0 {
		return backend.Payload{}, s.end.Finish(io.EOF)
	}
	if o := res.Objects[0]; o.Err != nil {
		return backend.Payload{}, s.end.Finish(fray.DecodeError(o.Err))
	} else {
		return backend.Payload{Data: o.Data}, nil
	}
}

// Cancel cancels the stream in the parent's job context.
func (s *childStream) Cancel() error {
	s.end.Cancel(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = s.c.Cancel(ctx, backend.ObjectID(s.id), false)
	})
	return nil
}

// --- the parent's side --------------------------------------------------------------------

// streamTable holds the streams a worker consumes, by the ids the parent gave them.
type streamTable struct {
	mu   sync.Mutex
	next uint64
	m    map[string]backend.StreamReader
}

func (t *streamTable) add(r backend.StreamReader) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]backend.StreamReader{}
	}
	t.next++
	id := "stream-" + strconv.FormatUint(t.next, 10)
	t.m[id] = r
	return id
}

func (t *streamTable) get(id string) backend.StreamReader {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[id]
}

// take removes and returns the stream of that id, if any.
func (t *streamTable) take(id string) backend.StreamReader {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.m[id]
	delete(t.m, id)
	return r
}

// cancelAll cancels every stream still held (the worker is gone).
func (t *streamTable) cancelAll() {
	t.mu.Lock()
	m := t.m
	t.m = nil
	t.mu.Unlock()
	for _, r := range m {
		_ = r.Cancel()
	}
}

// serveStream answers a stream request of the child against the host.
func (p *Process) serveStream(ctx context.Context, f wire.Frame) wire.Result {
	bad := func(err error) wire.Result {
		return errResult(&fray.SerializationError{Type: f.Type.String(), Op: "decode", Cause: err})
	}
	sj, ok := p.host.(backend.StreamJobContext)
	if !ok && f.Type != wire.TypeStreamNext {
		return errResult(&fray.UnsupportedError{Backend: p.host.Backend(), Feature: "streaming results from inside a worker",
			Hint: "the worker's host job context does not implement backend.StreamJobContext"})
	}
	switch f.Type {
	case wire.TypeStreamSubmit:
		var m wire.StreamSubmit
		if err := f.Decode(&m); err != nil {
			return bad(err)
		}
		fn, err := lookup(m.Function, backend.KindTask)
		if err != nil {
			return errResult(err)
		}
		r, err := sj.SubmitStreamTask(p.withOrigin(ctx, m.Origin), backend.TaskSpec{Function: fn, Arg: backend.Payload{Data: m.Arg},
			ArgRef: backend.ObjectID(m.ArgRef), Options: m.Options.Backend()}, backend.StreamSpec{Backpressure: m.Backpressure})
		if err != nil {
			return errResult(err)
		}
		return wire.Result{ObjectID: p.streams.add(r)}
	case wire.TypeStreamCall:
		var m wire.StreamCall
		if err := f.Decode(&m); err != nil {
			return bad(err)
		}
		method, err := lookup(m.Method, backend.KindMethod)
		if err != nil {
			return errResult(err)
		}
		r, err := sj.CallActorStream(p.withOrigin(ctx, m.Origin), backend.ActorCall{Actor: backend.ActorID(m.ActorID), Method: method,
			Arg: backend.Payload{Data: m.Arg}, ArgRef: backend.ObjectID(m.ArgRef)}, backend.StreamSpec{Backpressure: m.Backpressure})
		if err != nil {
			return errResult(err)
		}
		return wire.Result{ObjectID: p.streams.add(r)}
	case wire.TypeStreamNext:
		var m wire.StreamNext
		if err := f.Decode(&m); err != nil {
			return bad(err)
		}
		r := p.streams.get(m.ID)
		if r == nil {
			return errResult(&fray.ObjectLostError{ObjectID: m.ID, Reason: "this worker's parent holds no such stream (it ended, was cancelled or released)"})
		}
		pl, err := r.Next(p.withOrigin(ctx, m.Origin))
		switch {
		case err == io.EOF:
			p.streams.take(m.ID)
			return wire.Result{}
		case err != nil && ctx.Err() != nil:
			return errResult(ctx.Err()) // the child stopped waiting; the stream goes on
		case err != nil:
			p.streams.take(m.ID)
			return wire.Result{Objects: []wire.Object{{Err: fray.EncodeError(err)}}}
		}
		b, err := pl.Encoded(fray.Marshal)
		if err != nil {
			return wire.Result{Objects: []wire.Object{{Err: fray.EncodeError(err)}}}
		}
		return wire.Result{Objects: []wire.Object{{Data: b}}}
	}
	return p.streamItem(ctx, f)
}

// cancelStream cancels the stream named by a child's CancelTask, reporting whether id
// named one.
func (p *Process) cancelStream(id string) bool {
	r := p.streams.take(id)
	if r == nil {
		return false
	}
	_ = r.Cancel()
	return true
}

// releaseStreams drops the streams among ids (the child let go of them), cancelling any
// still running, and returns the other ids.
func (p *Process) releaseStreams(ids []string) []string {
	out := ids[:0:0]
	for _, id := range ids {
		if r := p.streams.take(id); r != nil {
			_ = r.Cancel()
			continue
		}
		out = append(out, id)
	}
	return out
}
