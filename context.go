package fray

import (
	"context"
	"sync/atomic"
)

// The job context travels in context.Context (MIGRATION.md, Pattern 8 and Common pitfalls 1). Every
// task and actor method receives a ctx that carries its job context and task info, so
// nested tasks and actor calls from inside a task need nothing extra.

type jobContextKey struct{}
type taskInfoKey struct{}

// TaskContextValue answers a context.Context's Value for the two keys fray stores a task's
// job context and TaskInfo under, for a backend that gives its tasks a context.Context type
// of its own (one layer instead of a WithJobContext and a WithTaskInfo on every task). A
// backend's Value method calls it first and falls back to its parent for other keys:
//
//	func (c *taskCtx) Value(key any) any {
//		if v, ok := fray.TaskContextValue(key, c.job, c.info); ok {
//			return v
//		}
//		return c.parent.Value(key)
//	}
//
// info is called only when the task info is asked for, so a Value lookup of another key
// costs nothing.
func TaskContextValue(key any, jc JobContext, info func() TaskInfo) (any, bool) {
	switch key.(type) {
	case jobContextKey:
		return jc, true
	case taskInfoKey:
		return info(), true
	}
	return nil, false
}

var defaultJobContext atomic.Pointer[JobContext]

// WithJobContext returns a copy of ctx that carries jc.
func WithJobContext(ctx context.Context, jc JobContext) context.Context {
	return context.WithValue(ctx, jobContextKey{}, jc)
}

// SetDefaultJobContext sets the process-wide job context used when a ctx carries none
// (nil clears it). Prefer WithJobContext; the default exists for programs with one job.
func SetDefaultJobContext(jc JobContext) {
	if jc == nil {
		defaultJobContext.Store(nil)
		return
	}
	defaultJobContext.Store(&jc)
}

// JobContextFrom returns the job context in ctx, else the process default, else an error
// wrapping ErrNoJobContext that says how to set one.
//
// The process default is only what SetDefaultJobContext set in this process: no backend
// sets one, not in the driver and not in worker processes or on Ray workers. So code
// inside a task or actor method that calls fray with a ctx not derived from the one it
// received (context.Background(), say) fails with ErrNoJobContext everywhere, rather than
// falling back on a job context without the calling task's runtime env and attribution.
func JobContextFrom(ctx context.Context) (JobContext, error) {
	if ctx != nil {
		if jc, ok := ctx.Value(jobContextKey{}).(JobContext); ok && jc != nil {
			return jc, nil
		}
	}
	if p := defaultJobContext.Load(); p != nil {
		return *p, nil
	}
	return nil, ErrNoJobContext
}

// TaskInfo describes the task or actor call a ctx belongs to.
type TaskInfo struct {
	JobID   string
	TaskID  string // backend id of this execution
	Name    string // TaskOptions.Name or the registered name
	ActorID ActorID
	Attempt int // 0 for the first try, then 1, 2, ... on retries
	PID     int // process running the task
}

// WithTaskInfo returns a copy of ctx carrying info; backends call it before running a task.
func WithTaskInfo(ctx context.Context, info TaskInfo) context.Context {
	return context.WithValue(ctx, taskInfoKey{}, info)
}

// TaskInfoFrom returns the task info in ctx; ok is false outside a task.
func TaskInfoFrom(ctx context.Context) (TaskInfo, bool) {
	info, ok := ctx.Value(taskInfoKey{}).(TaskInfo)
	return info, ok
}
