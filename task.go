package fray

import (
	"context"
	"fmt"
	"reflect"
	"runtime"

	"github.com/fray-go/fray/backend"
)

// Task is a registered task function taking A and returning R. Declare it once, in a
// package-level variable, under a stable name:
//
//	var Square = fray.NewTask("examples.square", func(ctx context.Context, x int) (int, error) {
//		return x * x, nil
//	})
//
// Several inputs go in a struct. A task returns its result or an error; the error reaches
// the caller as a *TaskError (see errors.go).
type Task[A, R any] struct {
	fn      *backend.Function
	lateErr error
}

// NewTask registers fn under name. It panics if the name is already taken (naming both
// definitions). A task defined after the registry froze can be declared but not called.
func NewTask[A, R any](name string, fn func(ctx context.Context, arg A) (R, error)) *Task[A, R] {
	checkName("task", name)
	f := &backend.Function{
		Name: name, Kind: backend.KindTask, DefinedAt: callerLocation(),
		ArgType: reflect.TypeFor[A](), ResultType: reflect.TypeFor[R](),
	}
	call := func(ctx context.Context, _ any, arg any) (any, error) {
		a, _ := arg.(A)
		return fn(ctx, a)
	}
	return &Task[A, R]{fn: f, lateErr: register(f, call, decoderFor[A]())}
}

// Name returns the registered name.
func (t *Task[A, R]) Name() string { return t.fn.Name }

// Remote submits the task with arg and returns a Ref to its result. At most one
// TaskOptions may be given. Errors here are about the submission (no job context, invalid
// options, an argument the codec cannot carry); the task's own failure comes from Get.
func (t *Task[A, R]) Remote(ctx context.Context, arg A, opts ...TaskOptions) (Ref[R], error) {
	jc, o, err := t.prepare(ctx, opts)
	if err != nil {
		return Ref[R]{}, err
	}
	p, err := makePayload(jc, arg)
	if err != nil {
		return Ref[R]{}, fmt.Errorf("fray: task %s: argument: %w", t.fn.Name, err)
	}
	id, err := jc.SubmitTask(ctx, backend.TaskSpec{Function: t.fn, Arg: p, Options: o})
	if err != nil {
		return Ref[R]{}, err
	}
	return newRef[R](jc, id), nil
}

// RemoteRef submits the task with the value of arg as its argument. As in Ray, a top-level
// ref argument is resolved before the task runs; if the task behind arg failed, this task
// fails with the same error without running.
func (t *Task[A, R]) RemoteRef(ctx context.Context, arg Ref[A], opts ...TaskOptions) (Ref[R], error) {
	jc, o, err := t.prepare(ctx, opts)
	if err != nil {
		return Ref[R]{}, err
	}
	if err := checkRefFor(jc, arg.c); err != nil {
		return Ref[R]{}, err
	}
	id, err := jc.SubmitTask(ctx, backend.TaskSpec{Function: t.fn, ArgRef: arg.c.id, Options: o})
	runtime.KeepAlive(arg) // the object must not be released before the backend pinned it
	if err != nil {
		return Ref[R]{}, err
	}
	return newRef[R](jc, id), nil
}

// prepare checks the call and resolves its options: what the backend trusts (backend's
// package doc).
func (t *Task[A, R]) prepare(ctx context.Context, opts []TaskOptions) (backend.JobContext, backend.TaskOptions, error) {
	if t.lateErr != nil {
		return nil, backend.TaskOptions{}, t.lateErr
	}
	jc, err := JobContextFrom(ctx)
	if err != nil {
		return nil, backend.TaskOptions{}, err
	}
	o, err := oneOption(opts, "TaskOptions")
	if err != nil {
		return nil, backend.TaskOptions{}, err
	}
	if err := o.Validate(); err != nil {
		return nil, backend.TaskOptions{}, fmt.Errorf("fray: task %s: %w", t.fn.Name, err)
	}
	return jc, o.effective(t.fn.Name), nil
}

func checkRefFor(jc backend.JobContext, c *refCore) error {
	if c == nil {
		return newKind(ErrInvalidArgument, "fray: zero Ref passed as an argument")
	}
	if c.job != jc.JobID() {
		return foreignRef("ref", string(c.id), c.job, jc)
	}
	return nil
}

func oneOption[O any](opts []O, name string) (O, error) {
	var o O
	switch len(opts) {
	case 0:
		return o, nil
	case 1:
		return opts[0], nil
	}
	return o, newKind(ErrInvalidArgument, fmt.Sprintf("fray: pass at most one %s, got %d", name, len(opts)))
}

// Call is Remote followed by Get.
func (t *Task[A, R]) Call(ctx context.Context, arg A, opts ...TaskOptions) (R, error) {
	r, err := t.Remote(ctx, arg, opts...)
	if err != nil {
		var zero R
		return zero, err
	}
	return r.Get(ctx)
}
