package local

import (
	"context"
	"fmt"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

// nestedHost is the backend.JobContext that serves nested calls from worker processes (the
// Host of their procpool): each call goes to the job context named by the calling task's
// info (the job that submitted the task or made the actor call), with that task in its
// context, so nested work goes through the same scheduler, lends the caller's CPU while it
// blocks and inherits its runtime env.
type nestedHost struct {
	c   *Cluster
	def *JobContext // the pool's job; nil for the cluster's pool of detached actors
}

var _ backend.JobContext = (*nestedHost)(nil)

// route finds the job and the calling task of a nested call.
func (r *nestedHost) route(ctx context.Context) (*JobContext, context.Context, error) {
	j := r.def
	info, ok := fray.TaskInfoFrom(ctx)
	if ok && info.JobID != "" && (j == nil || info.JobID != j.id) {
		j = r.c.jobByID(info.JobID)
	}
	if j == nil {
		return nil, ctx, fmt.Errorf("local: %w: the job context of this worker's caller is closed", fray.ErrClosed)
	}
	ctx = fray.WithJobContext(ctx, j)
	if ok && info.TaskID != "" {
		j.mu.Lock()
		o, found := j.objectLocked(backend.ObjectID(info.TaskID))
		var t *task
		if found {
			t = o.task
		}
		j.mu.Unlock()
		if t != nil {
			ctx = context.WithValue(ctx, taskKey{}, t)
		}
	}
	return j, ctx, nil
}

func (r *nestedHost) JobID() string {
	if r.def != nil {
		return r.def.id
	}
	return "cluster-" + r.c.tag
}

func (r *nestedHost) Backend() string            { return "local" }
func (r *nestedHost) PassesValuesDirectly() bool { return false }

func (r *nestedHost) SubmitTask(ctx context.Context, spec backend.TaskSpec) (backend.ObjectID, error) {
	j, ctx, err := r.route(ctx)
	if err != nil {
		return "", err
	}
	return j.SubmitTask(ctx, spec)
}

func (r *nestedHost) Put(ctx context.Context, v backend.Payload) (backend.ObjectID, error) {
	j, ctx, err := r.route(ctx)
	if err != nil {
		return "", err
	}
	return j.Put(ctx, v)
}

func (r *nestedHost) Get(ctx context.Context, ids []backend.ObjectID) ([]backend.Object, error) {
	j, ctx, err := r.route(ctx)
	if err != nil {
		return nil, err
	}
	return j.Get(ctx, ids)
}

func (r *nestedHost) Wait(ctx context.Context, ids []backend.ObjectID, n int, timeout time.Duration) ([]bool, error) {
	j, ctx, err := r.route(ctx)
	if err != nil {
		return nil, err
	}
	return j.Wait(ctx, ids, n, timeout)
}

func (r *nestedHost) Cancel(ctx context.Context, id backend.ObjectID, force bool) error {
	j, ctx, err := r.route(ctx)
	if err != nil {
		return err
	}
	return j.Cancel(ctx, id, force)
}

// Release has no caller context: every job context forgets the ids it made.
func (r *nestedHost) Release(ids []backend.ObjectID) {
	for _, j := range r.c.jobList() {
		j.Release(ids)
	}
}

func (r *nestedHost) CreateActor(ctx context.Context, spec backend.ActorSpec) (backend.ActorInfo, error) {
	j, ctx, err := r.route(ctx)
	if err != nil {
		return backend.ActorInfo{}, err
	}
	return j.CreateActor(ctx, spec)
}

func (r *nestedHost) GetActor(ctx context.Context, name, namespace string) (backend.ActorInfo, error) {
	j, ctx, err := r.route(ctx)
	if err != nil {
		return backend.ActorInfo{}, err
	}
	return j.GetActor(ctx, name, namespace)
}

func (r *nestedHost) CallActor(ctx context.Context, call backend.ActorCall) (backend.ObjectID, error) {
	j, ctx, err := r.route(ctx)
	if err != nil {
		return "", err
	}
	return j.CallActor(ctx, call)
}

func (r *nestedHost) KillActor(ctx context.Context, id backend.ActorID, noRestart bool) error {
	j, ctx, err := r.route(ctx)
	if err != nil {
		return err
	}
	return j.KillActor(ctx, id, noRestart)
}

// Close refuses: the driver owns its job contexts.
func (r *nestedHost) Close() error {
	return &fray.UnsupportedError{Backend: "local", Feature: "closing the job context from a worker process",
		Hint: "the driver owns the job context; return from the task instead"}
}
