package freshproc

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/worker"
)

// task is one submitted task, from submission to its result.
type task struct {
	j      *JobContext
	id     string
	obj    *object
	spec   backend.TaskSpec
	env    map[string]string // its runtime env merged over its parent's
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	proc      *worker.Process
	cpu       float64 // CPU held while running
	lending   int     // nested Gets and Waits in progress that lent the CPU
	cancelled bool
}

// SubmitTask implements backend.JobContext: the task runs in a fresh worker process once
// its resources are free.
func (j *JobContext) SubmitTask(ctx context.Context, spec backend.TaskSpec) (backend.ObjectID, error) {
	if j.isClosed() {
		return "", errClosed
	}
	if len(spec.Options.RuntimeEnv.PackageRequirements) > 0 {
		return "", unsupportedRequirements()
	}
	if err := j.c.feasible(spec.Options.Resources); err != nil {
		return "", err
	}
	if spec.ArgRef == "" {
		b, err := spec.Arg.Encoded(fray.Marshal)
		if err != nil {
			return "", err
		}
		spec.Arg = backend.Payload{Data: append([]byte(nil), b...)} // the caller may reuse its slice
	} else if _, err := j.lookup(spec.ArgRef); err != nil {
		return "", err
	}
	id, o := j.newObject()
	t := &task{j: j, id: fmt.Sprintf("t%d", j.c.next()), obj: o, spec: spec,
		env: mergeEnv(j.envOf(ctx), spec.Options.RuntimeEnv.Env)}
	t.ctx, t.cancel = context.WithCancel(j.base)
	j.mu.Lock()
	j.byObj[id] = t
	j.mu.Unlock()
	j.wg.Add(1)
	go t.run()
	return id, nil
}

// envOf is the runtime env of the task or actor a nested call comes from.
func (j *JobContext) envOf(ctx context.Context) map[string]string {
	info, ok := backend.TaskInfoOf(ctx)
	if !ok {
		return nil
	}
	if info.ActorID != "" {
		j.c.mu.Lock()
		a := j.c.actors[info.ActorID]
		j.c.mu.Unlock()
		if a != nil {
			return a.env
		}
		return nil
	}
	j.mu.Lock()
	t := j.tasks[info.TaskID]
	j.mu.Unlock()
	if t != nil {
		return t.env
	}
	return nil
}

// lend gives back the CPU of the task ctx belongs to while a nested Get or Wait blocks, so
// that the tasks it waits for can run; the returned func takes it again.
func (j *JobContext) lend(ctx context.Context) func() {
	info, ok := backend.TaskInfoOf(ctx)
	if !ok || info.ActorID != "" {
		return func() {}
	}
	j.mu.Lock()
	t := j.tasks[info.TaskID]
	j.mu.Unlock()
	if t == nil {
		return func() {}
	}
	t.mu.Lock()
	t.lending++
	first := t.lending == 1 && t.cpu > 0
	t.mu.Unlock()
	if first {
		j.c.release(map[string]float64{fray.CPU: t.cpu})
	}
	return func() {
		t.mu.Lock()
		t.lending--
		last := t.lending == 0 && t.cpu > 0
		t.mu.Unlock()
		if last {
			// Taken back even past the ledger's free amount would stall the task; wait for
			// it like any task, unless the task is being torn down.
			_ = j.c.acquire(t.ctx, map[string]float64{fray.CPU: t.cpu}, j.closed)
		}
	}
}

// run resolves the argument, then runs attempts until one succeeds or no retry is left.
func (t *task) run() {
	j := t.j
	defer j.wg.Done()
	defer func() {
		j.mu.Lock()
		delete(j.tasks, t.id)
		j.mu.Unlock()
		t.cancel()
	}()
	arg := t.spec.Arg.Data
	if t.spec.ArgRef != "" {
		up, err := j.lookup(t.spec.ArgRef)
		if err == nil {
			err = j.wait(t.ctx, up)
		}
		if err != nil {
			j.set(t.obj, nil, t.stopErr(err))
			return
		}
		if up.err != nil { // a failed upstream fails this task without running it
			j.set(t.obj, nil, up.err)
			return
		}
		arg = up.data
	}
	j.pin(arg)
	opts := t.spec.Options
	for attempt := 0; ; attempt++ {
		out, err := t.attempt(arg, attempt)
		if err == nil {
			j.set(t.obj, out, nil)
			return
		}
		if t.isCancelled() || j.isClosed() {
			j.set(t.obj, nil, t.stopErr(err))
			return
		}
		if !retryable(err, opts.RetryExceptions) || (opts.MaxRetries >= 0 && attempt >= opts.MaxRetries) {
			j.set(t.obj, nil, err)
			return
		}
	}
}

// attempt runs the task once in a fresh worker process holding its resources.
func (t *task) attempt(arg []byte, n int) ([]byte, error) {
	j, opts := t.j, t.spec.Options
	if err := j.c.acquire(t.ctx, opts.Resources, j.closed); err != nil {
		return nil, err
	}
	held := opts.Resources
	t.mu.Lock()
	t.cpu = held[fray.CPU]
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		lent := t.lending > 0
		t.cpu = 0
		t.mu.Unlock()
		if lent { // the CPU is lent out: give back the rest
			rest := make(map[string]float64, len(held))
			for k, v := range held {
				if k != fray.CPU {
					rest[k] = v
				}
			}
			held = rest
		}
		j.c.release(held)
	}()
	p, err := worker.Start(t.ctx, worker.Options{Env: envList(t.env), Host: j})
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.proc = p
	cancelled := t.cancelled
	t.mu.Unlock()
	j.mu.Lock()
	j.tasks[t.id] = t
	j.mu.Unlock()
	defer p.Abort() // the process ends with its task
	if cancelled {
		return nil, &fray.CancelledError{TaskID: t.id}
	}
	return p.Run(t.ctx, t.spec.Function, arg, backend.TaskInfo{JobID: j.id, TaskID: t.id, Name: opts.Name, Attempt: n})
}

// retryable reports whether a failed attempt may run again: a worker that died always, a
// task's own error with RetryExceptions.
func retryable(err error, retryExceptions bool) bool {
	switch {
	case errors.Is(err, fray.ErrWorkerDied):
		return true
	case errors.Is(err, fray.ErrWorkerStart), errors.Is(err, fray.ErrClosed), errors.Is(err, fray.ErrCancelled),
		errors.Is(err, fray.ErrInfeasible), errors.Is(err, context.Canceled):
		return false
	}
	return retryExceptions
}

func (t *task) isCancelled() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cancelled
}

// stopErr is the error of a task stopped by Cancel or Close.
func (t *task) stopErr(err error) error {
	if t.isCancelled() {
		return &fray.CancelledError{TaskID: t.id}
	}
	if t.j.isClosed() {
		return errClosed
	}
	return err
}

// abort kills the task's process (Close).
func (t *task) abort() {
	t.cancel()
	t.mu.Lock()
	p := t.proc
	t.mu.Unlock()
	if p != nil {
		p.Kill()
	}
}

// Cancel implements backend.JobContext: a queued task never runs, a running one has its
// ctx cancelled (force: its process killed), and its result is a *fray.CancelledError from
// then on, whatever the task still returns. Cancelling a finished task does nothing.
func (j *JobContext) Cancel(ctx context.Context, id backend.ObjectID, force bool) error {
	if j.isClosed() {
		return errClosed
	}
	j.mu.Lock()
	t := j.byObj[id]
	j.mu.Unlock()
	if t == nil {
		if _, err := j.lookup(id); err != nil {
			return err
		}
		j.cancelCall(id)
		return nil
	}
	select {
	case <-t.obj.done:
		return nil
	default:
	}
	t.mu.Lock()
	t.cancelled = true
	p := t.proc
	t.mu.Unlock()
	j.set(t.obj, nil, &fray.CancelledError{TaskID: t.id})
	t.cancel()
	if force && p != nil {
		p.Kill()
	}
	return nil
}
