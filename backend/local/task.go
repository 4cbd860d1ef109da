package local

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fray-go/fray"
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
	id       fray.ObjectID
	done     bool
	released bool // the caller released it; dropped from the store once done
	val      fray.Payload
	err      error
	waiters  []*waiter // Get and Wait calls blocked on this object
	deps     []*task   // tasks whose ArgRef is this object, waiting for it
	task     *task     // the task producing it, nil for Put values
}

// waiter is a blocked Get or Wait: ch gets a value once need more objects are done.
type waiter struct {
	need int
	ch   chan struct{}
}

// task is one task execution, actor method call or actor creation, together with the object
// it produces (embedded, to save an allocation).
type task struct {
	obj             object
	job             *JobContext // the job that submitted it; results go to its store
	fn              *fray.Function
	class           *class // resource class; nil for actor calls
	kind            taskKind
	arg             fray.Payload
	dep             *object // the ArgRef object, if any
	name            string
	retryExceptions bool
	retriesLeft     int // -1: unlimited
	attempt         int
	actor           *actor
	state           atomic.Int32
	ctx             atomic.Pointer[taskCtx] // the current attempt's context
	tc              taskCtx                 // the first attempt's context
	next            *task                   // link in a class queue or an actor mailbox

	// guarded by the cluster's mutex
	heldCPU int64 // CPU units held now (0 while lent out during a blocking Get)
	blocked int   // Get/Wait calls of this task now blocked
	keep    bool  // an actor creation whose resources stay with the actor

	// the outcome of a finished run, published by completeRun
	hasRes bool
	resVal fray.Payload
	resErr error
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
	res, err := t.invoke(ctx, nil, fray.TaskInfo{JobID: j.id, TaskID: string(t.obj.id), Name: t.name, Attempt: t.attempt, PID: pid})
	ctx.cancel()
	if err != nil && t.retryExceptions && t.retriesLeft != 0 {
		if t.state.CompareAndSwap(stRunning, stQueued) {
			if t.retriesLeft > 0 {
				t.retriesLeft--
			}
			t.attempt++
			t.ctx.Store(&taskCtx{t: t})
			j.exit()
			return true
		}
	}
	t.arg, t.dep = fray.Payload{}, nil
	t.state.CompareAndSwap(stRunning, stFinished)
	t.resVal, t.resErr = j.encodeResult(t, res, err)
	t.hasRes = true // completed by the worker once the resources are back
	return false
}

// completeRun publishes the result of a run after its resources were returned, so that a
// caller whose Get returns finds the node's resources free again.
func (t *task) completeRun() {
	if !t.hasRes {
		return
	}
	p, err := t.resVal, t.resErr
	t.hasRes, t.resVal, t.resErr = false, fray.Payload{}, nil
	t.job.complete(&t.obj, p, err)
	t.job.exit()
}

// invoke decodes the argument and calls the function with a context carrying info.
func (t *task) invoke(ctx context.Context, self any, info fray.TaskInfo) (any, error) {
	p := t.arg
	if t.dep != nil {
		p = t.dep.val
	}
	arg, err := t.fn.DecodeArg(p)
	if err != nil {
		return nil, &fray.TaskError{Task: t.fn.Name, TaskID: info.TaskID, TypeName: fmt.Sprintf("%T", err),
			Message: "cannot decode the argument: " + err.Error(), Cause: err}
	}
	return t.fn.Invoke(fray.WithTaskInfo(ctx, info), self, arg)
}

// taskCtx is the context.Context of one task attempt: it carries the job context (and, through
// fray.WithTaskInfo on top, the task info) and is cancelled by Cancel, by Close, and when the
// attempt returns. It is part of the task so that running a task allocates little.
type taskCtx struct {
	t    *task
	mu   sync.Mutex
	done chan struct{}
	err  error
}

type taskKey struct{}

// Deadline reports no deadline: tasks have none of their own.
func (c *taskCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done returns a channel closed when the attempt is cancelled or returns.
func (c *taskCtx) Done() <-chan struct{} {
	c.mu.Lock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.err != nil {
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
	err := c.err
	c.mu.Unlock()
	return err
}

// Value returns the job context and other values of the job's base context.
func (c *taskCtx) Value(key any) any {
	if _, ok := key.(taskKey); ok {
		return c.t
	}
	return c.t.job.base.Value(key)
}

func (c *taskCtx) String() string { return "local.taskContext(" + string(c.t.obj.id) + ")" }

func (c *taskCtx) cancel() {
	c.mu.Lock()
	if c.err == nil {
		c.err = context.Canceled
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
