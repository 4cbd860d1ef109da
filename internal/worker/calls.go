package worker

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/wire"
)

// call sends a request and waits for its answer; ctx ending sends Cancel and keeps waiting
// for the answer (the worker answers promptly when the code honours ctx; Kill otherwise).
func (p *Process) call(ctx context.Context, t wire.Type, body any, what string, info fray.TaskInfo) (wire.Result, error) {
	// The call is registered before its frame goes out: the worker may send nested requests
	// (and stream items) naming it before the write returns. A ctx carrying a
	// backend.StreamEmitter makes the call a streaming one: its StreamItem frames go there.
	emit := backend.StreamEmitterFrom(ctx)
	id, ch, err := p.out.startWith(t, body, func(id uint64) {
		p.mu.Lock()
		p.calls[id] = info
		if emit != nil {
			p.emits[id] = emit
		}
		p.mu.Unlock()
	})
	if err != nil {
		p.mu.Lock()
		delete(p.calls, id)
		delete(p.emits, id)
		p.mu.Unlock()
		return wire.Result{}, p.callErr(err, what)
	}
	defer func() {
		p.mu.Lock()
		delete(p.calls, id)
		delete(p.emits, id)
		p.mu.Unlock()
	}()
	var r reply
	select {
	case r = <-ch:
	case <-ctx.Done():
		_ = p.wr.Write(wire.TypeCancel, id, nil)
		r = <-ch
	}
	res, err := decodeResult(r)
	if err != nil {
		return res, p.callErr(err, what)
	}
	if res.Err != nil {
		return res, fray.DecodeError(res.Err)
	}
	return res, nil
}

// callErr names the call in a worker-died error.
func (p *Process) callErr(err error, what string) error {
	var wd *fray.WorkerDiedError
	if errors.As(err, &wd) {
		return &fray.WorkerDiedError{Task: what, Reason: wd.Reason}
	}
	if errors.Is(err, fray.ErrClosed) {
		return err
	}
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrClosed) {
		// The request could not be written because the worker is gone or going: wait (a
		// bounded time) for its exit so that the caller gets the worker-died error.
		t := time.NewTimer(p.opts.CloseGrace)
		select {
		case <-p.done:
		case <-t.C:
		}
		t.Stop()
	}
	select {
	case <-p.done:
		if p.endErr != nil && err != p.endErr {
			return p.callErr(p.endErr, what)
		}
	default:
	}
	return err
}

// Run runs the registered task fn with arg (fray.Marshal bytes) and returns the result's
// bytes. A task failure is a *fray.TaskError; the process dying is a *fray.WorkerDiedError.
func (p *Process) Run(ctx context.Context, fn string, arg []byte, info fray.TaskInfo) ([]byte, error) {
	res, err := p.call(ctx, wire.TypeRun, &wire.Run{Function: fn, Arg: arg, Info: wire.FromTaskInfo(info)}, fn, info)
	return res.Data, err
}

// CreateActor runs the constructor of class with arg and keeps the state in the worker
// under id. Calls run one at a time in arrival order unless maxConcurrency > 1. A
// constructor failure is returned and leaves no actor behind.
func (p *Process) CreateActor(ctx context.Context, class string, arg []byte, id backend.ActorID, maxConcurrency int, info fray.TaskInfo) error {
	info.ActorID = id
	_, err := p.call(ctx, wire.TypeCreateActor, &wire.CreateActor{Class: class, Arg: arg, ActorID: string(id),
		MaxConcurrency: maxConcurrency, Info: wire.FromTaskInfo(info)}, class, info)
	return err
}

// CallActor runs method (registered name "<class>.<method>") on actor id.
func (p *Process) CallActor(ctx context.Context, id backend.ActorID, method string, arg []byte, info fray.TaskInfo) ([]byte, error) {
	info.ActorID = id
	res, err := p.call(ctx, wire.TypeCallActor, &wire.CallActor{ActorID: string(id), Method: method, Arg: arg,
		Info: wire.FromTaskInfo(info)}, method, info)
	return res.Data, err
}

// ReleaseActor drops the actor's state in the worker once its queued calls finish.
func (p *Process) ReleaseActor(id backend.ActorID) error {
	return p.wr.Write(wire.TypeReleaseActor, 0, &wire.ReleaseActor{ActorID: string(id)})
}
