// Task submission and cancellation: where a task runs, SubmitTask and Cancel.

package local

import (
	"context"
	"fmt"
	"math"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/worker"
)

// TaskRunsInProcess reports whether a task submitted from ctx with options o would run as
// a goroutine of this process, by the rule SubmitTask applies (see "What runs in a
// process" in the package doc); when it would not, why names the reason. Callers use it to
// refuse, before submitting, work that relies on this process's memory (the executor and
// an in-memory mem:// bucket).
func (j *JobContext) TaskRunsInProcess(ctx context.Context, o fray.TaskOptions) (inProcess bool, why string) {
	env := o.RuntimeEnv
	if parent := parentEnv(ctx); !parent.IsZero() {
		env = parent.Merge(env)
	}
	switch {
	case o.MaxCalls > 0:
		return false, fmt.Sprintf("TaskOptions.MaxCalls is %d", o.MaxCalls)
	case !env.IsZero():
		return false, "it has a runtime env (RuntimeEnv.Env or PackageRequirements, its own or its parent task's)"
	case j.c.classFor(o.Resources, true).shape.gpu > 0:
		return false, "it asks for a GPU"
	case j.isolation == IsolateProcess:
		return false, "its job context runs every task in a worker process (Options.Isolation = IsolateProcess)"
	}
	return true, ""
}

// SubmitTask queues a task; it runs once its ArgRef (if any) is ready and its resources are
// free.
func (j *JobContext) SubmitTask(ctx context.Context, spec backend.TaskSpec) (backend.ObjectID, error) {
	return j.submitTask(ctx, spec, nil)
}

// submitTask is SubmitTask; with stream set, of a streaming task whose items go there.
func (j *JobContext) submitTask(ctx context.Context, spec backend.TaskSpec, stream *streamBuf) (backend.ObjectID, error) {
	if j.closed.Load() {
		return "", errClosed
	}
	fn, o := spec.Function, &spec.Options // checked and defaulted by the API
	if err := checkStreaming(fn, stream); err != nil {
		return "", err
	}
	cl := j.c.classFor(o.Resources, true)
	if o.Bundle != nil {
		var err error
		if cl, err = j.c.classInGroup(o.Resources, true, o.Bundle); err != nil {
			return "", err
		}
	}
	if cl.shape.infeasible != nil {
		return "", cl.shape.infeasible
	}
	var pr *procTask
	if o.MaxCalls > 0 || !o.RuntimeEnv.IsZero() || cl.shape.gpu > 0 || j.isolation == IsolateProcess || j.c.hasEnv.Load() {
		pr = j.processSpec(o.MaxCalls, fray.RuntimeEnv(o.RuntimeEnv), cl.shape.gpu > 0, parentEnv(ctx))
	}
	arg, err := j.payload(spec.Arg)
	if err != nil {
		return "", fmt.Errorf("local: task %s: argument: %w", fn.Name, err)
	}
	t := &task{job: j, fn: fn, class: cl, kind: kindTask, arg: arg, name: o.Name, pr: pr,
		retryExceptions: o.RetryExceptions, retriesLeft: int32(min(o.MaxRetries, math.MaxInt32)), stream: stream}
	t.init()
	j.mu.Lock()
	if j.closed.Load() {
		j.mu.Unlock()
		return "", errClosed
	}
	var dep *object
	if spec.ArgRef != "" {
		var ok bool
		if dep, ok = j.objectLocked(spec.ArgRef); !ok {
			j.mu.Unlock()
			return "", unknownObject(spec.ArgRef)
		}
		t.dep = dep
	}
	id := j.newIDLocked(&t.obj)
	if stream != nil {
		stream.id = id
	}
	switch {
	case dep != nil && !dep.done:
		t.state.Store(stWaitDep)
		ow := dep.waitList()
		ow.deps = append(ow.deps, t)
		j.mu.Unlock()
		return id, nil
	case dep != nil && dep.err != nil:
		// As in Ray, a task whose argument failed fails with the same error without running.
		t.state.Store(stFinished)
		ready := j.completeLocked(&t.obj, backend.Payload{}, dep.err, nil)
		j.mu.Unlock()
		j.submitAll(ready)
		return id, nil
	}
	t.state.Store(stQueued)
	j.mu.Unlock()
	j.c.submit(t)
	return id, nil
}

// Cancel cancels the task producing id: queued, it never runs; running, its context is
// cancelled. Either way its object fails with *fray.CancelledError at once and the task is not
// retried. With force, a task running in a worker process has its process killed; force
// changes nothing for in-process tasks: a goroutine cannot be killed. Cancelling a finished
// task or a Put object does nothing.
func (j *JobContext) Cancel(ctx context.Context, id backend.ObjectID, force bool) error {
	if j.closed.Load() {
		return errClosed
	}
	j.mu.Lock()
	o, ok := j.objectLocked(id)
	if !ok {
		j.mu.Unlock()
		return unknownObject(id)
	}
	t := o.task
	done := o.done
	j.mu.Unlock()
	if t == nil || done {
		return nil
	}
	// The process is read before cancelTask: cancelling the task's context ends the attempt,
	// which then forgets its process, and the kill would be lost. A run that starts after
	// this read sees force and kills its process itself.
	var proc *worker.Process
	if force && t.pr != nil {
		t.pr.force.Store(true)
		proc = t.pr.proc.Load()
	}
	j.cancelTask(t, &fray.CancelledError{TaskID: string(id)})
	if proc != nil {
		proc.Kill() // the attempt fails with a worker-died error, ignored: the task is cancelled
	}
	return nil
}

// cancelTask stops t from running (or cancels its context) and fails its object with err.
func (j *JobContext) cancelTask(t *task, err error) {
	for {
		s := t.state.Load()
		switch s {
		case stWaitDep, stQueued:
			if !t.state.CompareAndSwap(s, stCancelled) {
				continue
			}
		case stRunning:
			if !t.state.CompareAndSwap(s, stCancelled) {
				continue
			}
			// Complete first: once its context is cancelled the task may return and
			// complete the object with its own error.
			j.complete(&t.obj, backend.Payload{}, err)
			t.cancelCtx()
			return
		default:
			return
		}
		j.complete(&t.obj, backend.Payload{}, err)
		return
	}
}
