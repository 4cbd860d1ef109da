package local

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

// Task states. A task moves waitDep → queued → running → finished, and may be cancelled from
// any state but finished. Transitions are compare-and-swaps, so a cancelled task is never
// started and a finished one never cancelled.
const (
	stWaitDep int32 = iota + 1 // waiting for its ArgRef object
	stQueued                   // in a class queue or an actor mailbox
	stRunning
	stFinished
	stCancelled
)

type taskKind uint8

const (
	kindTask taskKind = iota
	kindCall          // an actor method call
	kindCtor          // an actor's creation: placement, then the constructor
)

var pid = os.Getpid()

// object is an entry of a job context's object store: a task result or a Put value. The
// fields are guarded by the job context's mutex.
type object struct {
	id       backend.ObjectID
	val      backend.Payload
	err      error
	task     *task    // the task producing it, nil for Put values
	wait     *objWait // who waits for it; nil until someone does
	done     bool
	released bool // the caller released it; dropped from the store once done
}

// objWait lists who waits for a pending object.
type objWait struct {
	waiters []*waiter  // Get and Wait calls blocked on it
	deps    []*task    // tasks whose ArgRef it is
	sets    []setEntry // fray.AsCompleted's watchers (readyset.go)
	buf     [1]*waiter
}

func (o *object) waitList() *objWait {
	if o.wait == nil {
		ow := &objWait{}
		ow.waiters = ow.buf[:0]
		o.wait = ow
	}
	return o.wait
}

func (o *object) addWaiter(w *waiter) {
	ow := o.waitList()
	ow.waiters = append(ow.waiters, w)
}

// waiter is a blocked Get or Wait: ch gets a value once need more objects are done.
type waiter struct {
	need int
	ch   chan struct{}
}

// task is one task execution, actor method call or actor creation, together with the object
// it produces (embedded, to save an allocation). Its fields are laid out to keep it small:
// submitting a task allocates little more than this struct and its id.
type task struct {
	obj    object
	job    *JobContext // the job that submitted it; results go to its store
	fn     *backend.Function
	class  *class // resource class; nil for actor calls
	actor  *actor
	dep    *object // the ArgRef object, if any
	next   *task   // link in a class queue or an actor mailbox
	arg    backend.Payload
	resErr error // with hasRes: the error of a finished run, published by completeRun
	name   string
	ctx    atomic.Pointer[taskCtx] // the current attempt's context
	tc     taskCtx                 // the first attempt's context
	pr     *procTask               // non-nil: the task runs in a worker process
	bnd    *bundle                 // cluster mutex: the placement group bundle it holds resources of
	stream *streamBuf              // non-nil: a streaming task or call, whose items go there

	heldCPU         int64 // cluster mutex: CPU units held now (0 while lent out)
	retriesLeft     int32 // -1: unlimited
	attempt         int32
	blocked         int32 // cluster mutex: Get/Wait calls of this task now blocked
	state           atomic.Int32
	kind            taskKind
	retryExceptions bool
	keep            bool // cluster mutex: an actor creation whose resources stay with the actor
	hasRes          bool // a finished run whose result (in arg and resErr) awaits completeRun
}

func (t *task) init() {
	t.obj.task = t
	t.tc.t = t
	t.ctx.Store(&t.tc)
}

// lentBack reports whether a task whose CPU was lent out during a blocking call should take
// it back: only while it still runs (the cluster's mutex is held).
func (t *task) lentBack(int64) bool { return t.state.Load() == stRunning }

// cancel cancels the task's current context.
func (t *task) cancelCtx() { t.ctx.Load().cancel() }

// run executes a task or actor creation on a cluster worker and reports whether it should be
// queued again for a retry.
func (t *task) run() (retry bool) {
	if t.kind == kindCtor {
		t.actor.construct(t)
		return false
	}
	j := t.job
	if !j.enter() {
		return false
	}
	if !t.state.CompareAndSwap(stQueued, stRunning) {
		j.exit()
		return false
	}
	ctx := t.ctx.Load()
	var res any
	var err error
	var pres backend.Payload
	if t.pr != nil {
		pres, err = t.runProcess(ctx)
	} else {
		res, err = t.invoke(ctx, nil)
	}
	return t.ran(ctx, res, pres, err)
}

// ran handles the outcome of an attempt (res in-process, pres from a worker process) and
// reports whether it should be queued again for a retry.
func (t *task) ran(ctx *taskCtx, res any, pres backend.Payload, err error) (retry bool) {
	j := t.job
	ctx.cancel()
	if err != nil && t.retryable(err) {
		if t.state.CompareAndSwap(stRunning, stQueued) {
			if t.retriesLeft > 0 {
				t.retriesLeft--
			}
			t.attempt++
			t.ctx.Store(&taskCtx{t: t, attempt: t.attempt})
			j.exit()
			return true
		}
	}
	t.dep = nil
	t.state.CompareAndSwap(stRunning, stFinished)
	if t.pr != nil {
		t.arg, t.resErr = pres, err // decoded from the worker's answer already
	} else {
		t.arg, t.resErr = j.encodeResult(t, res, err)
	}
	t.hasRes = true // completed by the worker once the resources are back
	return false
}

// goexited handles a task that ended its worker goroutine with runtime.Goexit (see
// backend.Function.Invoke): the attempt fails with the error of backend.Function.GoexitError, an
// application error. It reports whether the task should be queued again for a retry. The
// constructor of an actor handles its own (see actor.construct).
func (t *task) goexited() (retry bool) {
	if t.kind == kindCtor {
		return false
	}
	return t.ran(t.ctx.Load(), nil, backend.Payload{}, t.fn.GoexitError(string(t.obj.id)))
}

// completeRun publishes the result of a run after its resources were returned, so that a
// caller whose Get returns finds the node's resources free again.
func (t *task) completeRun() {
	if !t.hasRes {
		return
	}
	p, err := t.arg, t.resErr
	t.hasRes, t.arg, t.resErr = false, backend.Payload{}, nil
	t.job.complete(&t.obj, p, err)
	t.job.exit()
}

// invoke decodes the argument and calls the function with ctx, which carries the task info.
func (t *task) invoke(ctx *taskCtx, self any) (any, error) {
	p := t.arg
	if t.dep != nil {
		p = t.dep.val
	}
	arg, err := t.fn.DecodeArg(p)
	if err != nil {
		return nil, &fray.TaskError{Task: t.fn.Name, TaskID: string(t.obj.id), TypeName: fmt.Sprintf("%T", err),
			Message: "cannot decode the argument: " + err.Error(), Cause: err}
	}
	return t.fn.Invoke(t.streamCtx(ctx), self, arg)
}

// taskCtx is the context.Context of one task attempt: it carries the job context and the task
// info and is cancelled by Cancel, by Close, and when the attempt returns. The first attempt's
// is part of the task, so that running a task allocates little.
type taskCtx struct {
	t         *task
	mu        sync.Mutex
	done      chan struct{}
	attempt   int32
	cancelled bool
}

type taskKey struct{}

// Deadline reports no deadline: tasks have none of their own.
func (c *taskCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done returns a channel closed when the attempt is cancelled or returns.
func (c *taskCtx) Done() <-chan struct{} {
	c.mu.Lock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.cancelled {
			close(c.done)
		}
	}
	d := c.done
	c.mu.Unlock()
	return d
}

// Err returns context.Canceled once the attempt is cancelled or has returned.
func (c *taskCtx) Err() error {
	c.mu.Lock()
	cancelled := c.cancelled
	c.mu.Unlock()
	if cancelled {
		return context.Canceled
	}
	return nil
}

// Value returns the task info, the job context, and other values of the job's base context.
func (c *taskCtx) Value(key any) any {
	if v, ok := backend.TaskContextValue(key, c.t.job, c.info); ok {
		return v
	}
	if _, ok := key.(taskKey); ok {
		return c.t
	}
	return c.t.job.base.Value(key)
}

// info is the task info of the attempt.
func (c *taskCtx) info() fray.TaskInfo {
	t := c.t
	info := fray.TaskInfo{JobID: t.job.id, TaskID: string(t.obj.id), Name: t.name, Attempt: int(c.attempt), PID: pid}
	if t.actor != nil {
		info.ActorID = t.actor.info.ID
	}
	return info
}

func (c *taskCtx) String() string { return "local.taskContext(" + string(c.t.obj.id) + ")" }

func (c *taskCtx) cancel() {
	c.mu.Lock()
	if !c.cancelled {
		c.cancelled = true
		if c.done != nil {
			close(c.done)
		}
	}
	c.mu.Unlock()
}

// runningTask returns the task whose context ctx derives from, if it runs on cluster c.
func runningTask(ctx context.Context, c *Cluster) *task {
	t, _ := ctx.Value(taskKey{}).(*task)
	if t == nil || t.job.c != c || t.kind != kindTask {
		return nil
	}
	return t
}
