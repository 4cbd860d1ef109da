package local

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/procpool"
	"github.com/fray-go/fray/internal/worker"
)

// This file is where work that needs a process of its own leaves the in-process backend:
// the scheduler admits it exactly like in-process work (one resource ledger), and the
// goroutine that would have run the function instead hands the call to a worker process of
// internal/procpool (the same binary in worker mode) and waits for the answer.

// Isolation says which tasks and actors of a job context run in worker processes.
type Isolation int

const (
	// IsolateNone (the default) runs a task or actor in a worker process only when its
	// options need one: TaskOptions.MaxCalls > 0, a RuntimeEnv (Env or
	// PackageRequirements, its own or inherited from a parent task), or a GPU amount. All
	// other work runs as goroutines of the driver.
	IsolateNone Isolation = iota
	// IsolateProcess runs every task and actor of the job context in a worker process,
	// for crash isolation (a task that crashes or is killed takes only its worker down)
	// and to check that a program behaves as it would on a cluster, where nothing is
	// shared between tasks but what travels through fray.
	IsolateProcess
)

func (i Isolation) String() string {
	switch i {
	case IsolateNone:
		return "IsolateNone"
	case IsolateProcess:
		return "IsolateProcess"
	}
	return fmt.Sprintf("Isolation(%d)", int(i))
}

// WorkerOptions configure a cluster's worker processes.
type WorkerOptions struct {
	// IdleTimeout: an idle worker process exits after this long; default one minute.
	IdleTimeout time.Duration
	// VenvDir caches the virtualenvs built for RuntimeEnv.PackageRequirements, one per
	// requirement set (keyed by its hash); default <user cache dir>/fray/venvs.
	VenvDir string
	// Python builds virtualenvs; default "python3".
	Python string
	// Binary is the worker program; default the running executable, whose main (or
	// TestMain) must call fray.Init() first.
	Binary string
}

// procTask is what a task running in a worker process needs beyond an in-process one.
type procTask struct {
	env      fray.RuntimeEnv // its own merged with its parent's
	maxCalls int
	grant    procpool.GPUGrant // cluster mutex: the GPU ids it holds while admitted
	granted  bool
	proc     atomic.Pointer[worker.Process] // the process running it now
	force    atomic.Bool                    // force-cancelled: kill the process
}

// gpuMaxCalls is the MaxCalls a GPU task gets when it sets none, as in Ray.
const gpuMaxCalls = 1

// processSpec decides whether a task needs a worker process and with what: env is the
// task's runtime env merged over its parent's. It returns nil for in-process work.
func (j *JobContext) processSpec(maxCalls int, env fray.RuntimeEnv, gpu bool, parent fray.RuntimeEnv) *procTask {
	if !parent.IsZero() {
		env = parent.Merge(env)
	}
	if maxCalls == 0 && gpu {
		maxCalls = gpuMaxCalls
	}
	if !env.IsZero() {
		j.c.hasEnv.Store(true)
	}
	if maxCalls > 0 || !env.IsZero() || gpu || j.isolation == IsolateProcess {
		return &procTask{env: env, maxCalls: maxCalls}
	}
	return nil
}

// parentEnv is the runtime env of the task or actor whose nested call ctx is (zero for the
// driver and for in-process work).
func parentEnv(ctx context.Context) fray.RuntimeEnv {
	t, _ := ctx.Value(taskKey{}).(*task)
	if t == nil {
		return fray.RuntimeEnv{}
	}
	if t.pr != nil {
		return t.pr.env
	}
	if a := t.actor; a != nil && a.pr != nil {
		return a.pr.env
	}
	return fray.RuntimeEnv{}
}

// procs holds a job context's or a cluster's worker pool, made on first use.
type procs struct {
	mu     sync.Mutex
	pool   *procpool.Pool
	closed bool
}

func (ps *procs) get(c *Cluster, def *JobContext) (*procpool.Pool, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return nil, errClosed
	}
	if ps.pool == nil {
		w := c.workerOpts
		o := procpool.Options{Host: &nestedHost{c: c, def: def}, IdleTimeout: w.IdleTimeout, CacheDir: w.VenvDir,
			Python: w.Python, Binary: w.Binary}
		if def != nil {
			o.JobID, o.Namespace = def.id, def.ns
		} else {
			o.JobID = "cluster-" + c.tag
		}
		ps.pool = procpool.New(o)
	}
	return ps.pool, nil
}

// close kills every worker process of the pool and waits for them to exit.
func (ps *procs) close() {
	ps.mu.Lock()
	ps.closed = true
	p := ps.pool
	ps.mu.Unlock()
	if p != nil {
		_ = p.Close()
	}
}

// runProcess runs a task attempt in a worker process of the job's pool. The task's
// resources (and GPU ids) are held by the caller.
func (t *task) runProcess(ctx *taskCtx) (backend.Payload, error) {
	j := t.job
	pool, err := j.procs.get(j.c, j)
	if err != nil {
		return backend.Payload{}, err
	}
	p := t.arg
	if t.dep != nil {
		p = t.dep.val
	}
	arg, err := p.Encoded(fray.Marshal)
	if err != nil {
		return backend.Payload{}, &fray.TaskError{Task: t.fn.Name, TaskID: string(t.obj.id), TypeName: fmt.Sprintf("%T", err),
			Message: "cannot encode the argument: " + err.Error(), Cause: err}
	}
	var gpus []int
	if t.pr.granted {
		gpus = t.pr.grant.IDs
	} else if j.c.gpus.Len() > 0 {
		gpus = []int{} // the node's GPUs are for the tasks that hold them
	}
	l, err := pool.Acquire(ctx, t.pr.env, gpus, t.pr.maxCalls)
	if err != nil {
		if ctx.Err() != nil {
			return backend.Payload{}, &fray.CancelledError{TaskID: string(t.obj.id)}
		}
		return backend.Payload{}, t.diedError(err) // killed while starting: retried like any death
	}
	defer l.Release()
	t.pr.proc.Store(l.Process())
	defer t.pr.proc.Store(nil)
	if t.pr.force.Load() {
		l.Process().Kill()
	}
	info := ctx.info()
	info.PID = l.Process().PID()
	b, err := l.Run(t.streamCtx(ctx), t.fn.Name, arg, info)
	if err != nil {
		return backend.Payload{}, t.diedError(err)
	}
	return backend.Payload{Data: b}, nil
}

// diedError names t in a *fray.WorkerDiedError; other errors pass unchanged.
func (t *task) diedError(err error) error {
	var wd *fray.WorkerDiedError
	if errors.As(err, &wd) {
		return &fray.WorkerDiedError{Task: t.name + " (" + string(t.obj.id) + ")", Reason: wd.Reason}
	}
	return err
}

// retryable reports whether a failed attempt may run again: system failures (the worker
// died) always count against MaxRetries, application errors only with RetryExceptions.
// A runtime environment that cannot be built, a closed job and a cancelled task are final.
func (t *task) retryable(err error) bool {
	if t.retriesLeft == 0 {
		return false
	}
	if errors.Is(err, fray.ErrWorkerDied) {
		return true
	}
	if !t.retryExceptions {
		return false
	}
	return !errors.Is(err, fray.ErrRuntimeEnv) && !errors.Is(err, fray.ErrClosed) && !errors.Is(err, fray.ErrCancelled)
}

// --- GPU ids ---------------------------------------------------------------------------

// admitLocked takes cl's resources for t if they fit, with concrete GPU ids for a GPU
// amount; c.mu is held.
func (c *Cluster) admitLocked(t *task, cl *class) bool {
	if cl.pg != nil {
		return c.admitInGroupLocked(t, cl)
	}
	if !c.ledger.fits(cl.shape) {
		return false
	}
	if cl.shape.gpu > 0 && t.pr != nil {
		g, err := c.gpus.Assign(fray.FromUnits(cl.shape.gpu))
		if err != nil {
			return false // the free GPU capacity is fragmented: wait for a release
		}
		t.pr.grant, t.pr.granted = g, true
	}
	c.ledger.acquire(cl.shape)
	t.heldCPU = cl.shape.cpu
	return true
}

// releaseGPUsLocked gives t's GPU ids back; c.mu is held.
func (c *Cluster) releaseGPUsLocked(t *task) {
	if t.pr != nil && t.pr.granted {
		c.gpus.Release(t.pr.grant)
		t.pr.grant, t.pr.granted = procpool.GPUGrant{}, false
	}
}

func newGPUSet(total fray.Resources) *procpool.GPUSet {
	return procpool.NewGPUSet(int(math.Ceil(total[fray.GPU])))
}

// --- actors in worker processes ----------------------------------------------------------

// startProcess starts the actor's worker process and runs its constructor there; the
// returned *procpool.Actor is the actor's state as far as the scheduler is concerned.
// Detached actors live in the cluster's pool, job-scoped ones in their job's.
func (a *actor) startProcess(ctx *taskCtx, gen uint64) (any, error) {
	ct := a.ctorTask
	var pool *procpool.Pool
	var err error
	if a.owner != nil {
		pool, err = a.owner.procs.get(a.c, a.owner)
	} else {
		pool, err = a.c.procs.get(a.c, nil)
	}
	if err != nil {
		return nil, err
	}
	arg, err := ct.arg.Encoded(fray.Marshal)
	if err != nil {
		return nil, err
	}
	var gpus []int
	if ct.pr.granted {
		gpus = ct.pr.grant.IDs
	} else if a.c.gpus.Len() > 0 {
		gpus = []int{}
	}
	pa, err := pool.StartActor(ctx, procpool.ActorSpec{Class: a.info.Class, Arg: arg, ID: a.info.ID,
		MaxConcurrency: a.maxConc, Info: ctx.info(), Env: a.pr.env, GPUIDs: gpus,
		OnDeath: func(err error) { a.processDied(gen, err) }})
	if err != nil {
		return nil, err
	}
	return pa, nil
}

// processDied handles the death of the process of generation gen that nobody asked for
// (a crash, the OOM killer, a SIGKILL from outside): the actor restarts if it may, else dies.
func (a *actor) processDied(gen uint64, err error) {
	reason := err.Error()
	var wd *fray.WorkerDiedError
	if errors.As(err, &wd) {
		reason = wd.Reason
	}
	a.mu.Lock()
	if a.gen != gen || a.state == acDead {
		a.mu.Unlock()
		return // handled already (killed, restarted, or reported by a call it cut short)
	}
	a.killLocked(false, "its worker process died ("+reason+")")
}

// stopProcessLocked kills the process of an actor instance being discarded, and counts the
// wait for its exit among the actor's goroutines so that Close waits for it; a.mu is held.
func (a *actor) stopProcessLocked(self any) {
	pa, ok := self.(*procpool.Actor)
	if !ok {
		return
	}
	a.goroutines++
	go func() {
		pa.Abort() // SIGKILL, no death report: the scheduler handles this death itself
		a.mu.Lock()
		a.goroutineDone()
		a.mu.Unlock()
	}()
}

// callProcess runs a method call in the actor's process. The process dying under the call
// fails it with *fray.ActorDiedError, as every call to a dead actor does, and died is then
// the process's death.
func (a *actor) callProcess(ctx *taskCtx, t *task, pa *procpool.Actor) (_ backend.Payload, _ error, died error) {
	p := t.arg
	if t.dep != nil {
		p = t.dep.val
	}
	arg, err := p.Encoded(fray.Marshal)
	if err != nil {
		return backend.Payload{}, &fray.TaskError{Task: t.fn.Name, TaskID: string(t.obj.id), TypeName: fmt.Sprintf("%T", err),
			Message: "cannot encode the argument: " + err.Error(), Cause: err}, nil
	}
	info := ctx.info()
	info.PID = pa.PID()
	b, err := pa.Call(t.streamCtx(ctx), t.fn.Name, arg, info)
	if err != nil {
		var wd *fray.WorkerDiedError
		if errors.As(err, &wd) {
			return backend.Payload{}, a.diedError("its worker process died (" + wd.Reason + ")"), err
		}
		if errors.Is(err, fray.ErrClosed) {
			return backend.Payload{}, a.diedError("its worker process was stopped"), nil
		}
		return backend.Payload{}, err, nil
	}
	return backend.Payload{Data: b}, nil, nil
}
