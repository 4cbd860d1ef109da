package fray

import (
	"context"
	"sync/atomic"

	"github.com/fray-go/fray/backend"
)

// The job context travels in context.Context (MIGRATION.md, Pattern 8 and Common pitfalls 1). Every
// task and actor method receives a ctx that carries its job context and task info, so
// nested tasks and actor calls from inside a task need nothing extra.

var defaultJobContext atomic.Pointer[backend.JobContext]

// WithJobContext returns a copy of ctx that carries jc, the job context a backend's
// constructor returned (local.New, ray.Connect).
func WithJobContext(ctx context.Context, jc backend.JobContext) context.Context {
	return backend.WithJobContext(ctx, jc)
}

// SetDefaultJobContext sets the process-wide job context used when a ctx carries none
// (nil clears it). Prefer WithJobContext; the default exists for programs with one job.
func SetDefaultJobContext(jc backend.JobContext) {
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
func JobContextFrom(ctx context.Context) (backend.JobContext, error) {
	if jc, ok := backend.JobContextOf(ctx); ok {
		return jc, nil
	}
	if p := defaultJobContext.Load(); p != nil {
		return *p, nil
	}
	return nil, ErrNoJobContext
}

// TaskInfo describes the task or actor call a ctx belongs to: its job, task id, name, actor,
// attempt and process.
type TaskInfo = backend.TaskInfo

// TaskInfoFrom returns the task info in ctx; ok is false outside a task.
func TaskInfoFrom(ctx context.Context) (TaskInfo, bool) { return backend.TaskInfoOf(ctx) }
