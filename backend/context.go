package backend

import "context"

// TaskInfo describes the task or actor call a ctx belongs to (fray.TaskInfo is this type).
type TaskInfo struct {
	JobID   string
	TaskID  string // backend id of this execution
	Name    string // TaskOptions.Name or the registered name
	ActorID ActorID
	Attempt int // 0 for the first try, then 1, 2, ... on retries
	PID     int // process running the task
}

type jobContextKey struct{}
type taskInfoKey struct{}

// WithJobContext returns a copy of ctx that carries jc (fray.WithJobContext).
func WithJobContext(ctx context.Context, jc JobContext) context.Context {
	return context.WithValue(ctx, jobContextKey{}, jc)
}

// JobContextOf returns the job context ctx carries, if any (fray.JobContextFrom adds the
// process default).
func JobContextOf(ctx context.Context) (JobContext, bool) {
	if ctx == nil {
		return nil, false
	}
	jc, ok := ctx.Value(jobContextKey{}).(JobContext)
	return jc, ok && jc != nil
}

// WithTaskInfo returns a copy of ctx carrying info; a backend calls it (after
// WithJobContext) to build the ctx a task or actor method runs with.
func WithTaskInfo(ctx context.Context, info TaskInfo) context.Context {
	return context.WithValue(ctx, taskInfoKey{}, info)
}

// NewTaskContext is the context a task or actor method runs with: parent carrying jc and
// info. A backend with a context type of its own uses TaskContextValue instead.
func NewTaskContext(parent context.Context, jc JobContext, info TaskInfo) context.Context {
	return WithTaskInfo(WithJobContext(parent, jc), info)
}

// TaskInfoOf returns the task info in ctx; ok is false outside a task (fray.TaskInfoFrom).
func TaskInfoOf(ctx context.Context) (TaskInfo, bool) {
	info, ok := ctx.Value(taskInfoKey{}).(TaskInfo)
	return info, ok
}

// TaskContextValue answers a context.Context's Value for the two keys a task's job context
// and TaskInfo are stored under, for a backend that gives its tasks a context.Context type
// of its own (one layer instead of NewTaskContext's two on every task). A backend's Value
// method calls it first and falls back to its parent for other keys:
//
//	func (c *taskCtx) Value(key any) any {
//		if v, ok := backend.TaskContextValue(key, c.job, c.info); ok {
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
