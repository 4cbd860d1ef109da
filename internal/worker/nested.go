package worker

import (
	"context"
	"errors"
	"fmt"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/wire"
)

// answer sends the result of a nested request back to the child; one too large to frame
// becomes a serialization error, so the child's call still ends.
func (p *Process) answer(id uint64, res wire.Result) {
	if err := p.wr.Write(wire.TypeResult, id, &res); err != nil {
		if errors.Is(err, wire.ErrFrameTooLarge) {
			_ = p.wr.Write(wire.TypeResult, id, &wire.Result{Err: fray.EncodeError(&fray.SerializationError{Type: "result", Op: "encode", Cause: err})})
		}
	}
}

// serveNested runs one nested request from the child against the host.
func (p *Process) serveNested(f wire.Frame) {
	ctx, cancel := context.WithCancel(p.hostCtx)
	p.mu.Lock()
	p.nested[f.ID] = cancel
	p.mu.Unlock()
	p.nestedWG.Add(1)
	go func() {
		defer p.nestedWG.Done()
		defer func() {
			p.mu.Lock()
			delete(p.nested, f.ID)
			p.mu.Unlock()
			cancel()
		}()
		res := p.handleNested(ctx, f)
		p.answer(f.ID, res)
	}()
}

// withOrigin attributes a nested call to the task that made it.
func (p *Process) withOrigin(ctx context.Context, o wire.Origin) context.Context {
	if p.host != nil {
		ctx = fray.WithJobContext(ctx, p.host)
	}
	p.mu.Lock()
	info, ok := p.calls[o.From]
	p.mu.Unlock()
	if ok && o.From != 0 {
		info.PID = p.pid
		ctx = backend.WithTaskInfo(ctx, info)
	}
	return ctx
}

func (p *Process) handleNested(ctx context.Context, f wire.Frame) wire.Result {
	if f.Type == wire.TypeStreamItem {
		return p.streamItem(ctx, f)
	}
	h := p.host
	if f.Type.IsStream() && h != nil {
		return p.serveStream(ctx, f)
	}
	if h == nil {
		return errResult(&fray.UnsupportedError{Backend: "worker parent", Feature: "nested calls from inside a worker (" + f.Type.String() + ")",
			Hint: "start the worker with StartOptions.Host set"})
	}
	bad := func(err error) wire.Result {
		return errResult(&fray.SerializationError{Type: f.Type.String(), Op: "decode", Cause: err})
	}
	switch f.Type {
	case wire.TypeSubmit:
		var m wire.Submit
		if err := f.Decode(&m); err != nil {
			return bad(err)
		}
		fn, err := lookup(m.Function, backend.KindTask)
		if err != nil {
			return errResult(err)
		}
		id, err := h.SubmitTask(p.withOrigin(ctx, m.Origin), backend.TaskSpec{Function: fn, Arg: backend.Payload{Data: m.Arg},
			ArgRef: backend.ObjectID(m.ArgRef), Options: m.Options.Backend()})
		return objResult(id, err)
	case wire.TypePut:
		var m wire.Put
		if err := f.Decode(&m); err != nil {
			return bad(err)
		}
		id, err := h.Put(p.withOrigin(ctx, m.Origin), backend.Payload{Data: m.Data})
		return objResult(id, err)
	case wire.TypeGet:
		var m wire.Get
		if err := f.Decode(&m); err != nil {
			return bad(err)
		}
		objs, err := h.Get(p.withOrigin(ctx, m.Origin), wire.ObjectIDs(m.IDs))
		if err != nil {
			return errResult(err)
		}
		out := make([]wire.Object, len(objs))
		for i, o := range objs {
			if o.Err != nil {
				out[i].Err = fray.EncodeError(o.Err)
				continue
			}
			b, err := o.Payload.Encoded(fray.Marshal)
			if err != nil {
				out[i].Err = fray.EncodeError(err)
				continue
			}
			out[i].Data = b
		}
		return wire.Result{Objects: out}
	case wire.TypeWait:
		var m wire.Wait
		if err := f.Decode(&m); err != nil {
			return bad(err)
		}
		ready, err := h.Wait(p.withOrigin(ctx, m.Origin), wire.ObjectIDs(m.IDs), m.NumReturns, wire.TimeoutDuration(m.Timeout))
		if err != nil {
			return errResult(err)
		}
		return wire.Result{Ready: ready}
	case wire.TypeCancelTask:
		var m wire.CancelTask
		if err := f.Decode(&m); err != nil {
			return bad(err)
		}
		if p.cancelStream(m.ObjectID) {
			return wire.Result{}
		}
		return emptyResult(h.Cancel(p.withOrigin(ctx, m.Origin), backend.ObjectID(m.ObjectID), m.Force))
	case wire.TypeCreateActorNested:
		var m wire.CreateActorNested
		if err := f.Decode(&m); err != nil {
			return bad(err)
		}
		o, err := m.Options.Backend()
		if err != nil {
			return errResult(err)
		}
		class, err := lookup(m.Class, backend.KindActorClass)
		if err != nil {
			return errResult(err)
		}
		info, err := h.CreateActor(p.withOrigin(ctx, m.Origin), backend.ActorSpec{Class: class, Arg: backend.Payload{Data: m.Arg}, Options: o})
		return actorResult(info, err)
	case wire.TypeGetActor:
		var m wire.GetActor
		if err := f.Decode(&m); err != nil {
			return bad(err)
		}
		info, err := h.GetActor(p.withOrigin(ctx, m.Origin), m.Name, m.Namespace)
		return actorResult(info, err)
	case wire.TypeCallActorNested:
		var m wire.CallActorNested
		if err := f.Decode(&m); err != nil {
			return bad(err)
		}
		method, err := lookup(m.Method, backend.KindMethod)
		if err != nil {
			return errResult(err)
		}
		id, err := h.CallActor(p.withOrigin(ctx, m.Origin), backend.ActorCall{Actor: backend.ActorID(m.ActorID), Method: method,
			Arg: backend.Payload{Data: m.Arg}, ArgRef: backend.ObjectID(m.ArgRef)})
		return objResult(id, err)
	case wire.TypeKillActor:
		var m wire.KillActor
		if err := f.Decode(&m); err != nil {
			return bad(err)
		}
		return emptyResult(h.KillActor(p.withOrigin(ctx, m.Origin), backend.ActorID(m.ActorID), m.NoRestart))
	case wire.TypeCreatePlacementGroup, wire.TypeWaitPlacementGroup, wire.TypeRemovePlacementGroup, wire.TypeGetPlacementGroup:
		return p.handlePlacement(ctx, f)
	}
	return errResult(&fray.UnsupportedError{Backend: "worker parent", Feature: "message " + f.Type.String()})
}

func objResult(id backend.ObjectID, err error) wire.Result {
	if err != nil {
		return errResult(err)
	}
	return wire.Result{ObjectID: string(id)}
}

func actorResult(info backend.ActorInfo, err error) wire.Result {
	if err != nil {
		return errResult(err)
	}
	return wire.Result{Actor: wire.FromActorInfo(info)}
}

func emptyResult(err error) wire.Result {
	if err != nil {
		return errResult(err)
	}
	return wire.Result{}
}

// streamItem hands one item of a streaming call to that call's emitter, which blocks while
// the stream's backpressure bound is reached; the answer lets the child's yield return.
func (p *Process) streamItem(ctx context.Context, f wire.Frame) wire.Result {
	var m wire.StreamItem
	if err := f.Decode(&m); err != nil {
		return errResult(&fray.SerializationError{Type: f.Type.String(), Op: "decode", Cause: err})
	}
	p.mu.Lock()
	emit := p.emits[m.From]
	p.mu.Unlock()
	if emit == nil {
		return errResult(fmt.Errorf("%w: stream item for request %d, which is no streaming call in flight (it ended or was cancelled)", fray.ErrCancelled, m.From))
	}
	return emptyResult(emit(ctx, backend.Payload{Data: m.Data}))
}
