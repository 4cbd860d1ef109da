package local

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

// Actor states.
const (
	acPending      = iota // waiting for its placement resources
	acConstructing        // its constructor runs
	acAlive
	acDead
)

// actor is one actor on a cluster. Its calls wait in a FIFO mailbox; up to maxConc drainer
// goroutines take them in order, so with MaxConcurrency 1 calls run one at a time in
// submission order. Drainers exist only while there is work.
type actor struct {
	c        *Cluster
	info     backend.ActorInfo
	owner    *JobContext // nil for detached actors, which belong to the cluster
	ctorTask *task       // the creation: placement, then the constructor; reused on restarts
	holds    bool        // the actor holds its placement resources for life
	maxConc  int
	pr       *procTask // non-nil: the actor lives in a worker process (env; GPU ids on ctorTask)

	mu           sync.Mutex
	gone         sync.Cond // signalled when goroutines drops to 0
	state        int
	gen          uint64 // bumped by every kill and restart; drainers of older generations stop
	self         any
	ctorCtx      *taskCtx // the constructor's context, cancelled when the actor dies or restarts
	head, tail   *task    // the mailbox
	inflight     []*task  // calls now running
	drainers     int      // drainers of the current generation
	goroutines   int      // constructors and drainers of all generations
	restartsLeft int      // -1: unlimited
	restarts     int
	taskRetries  int  // ActorOptions.MaxTaskRetries: each call's retries on restarts (-1: unlimited)
	holding      bool // the held resources are taken from the ledger
	reason       string
}

// CreateActor starts an actor, or with GetIfExists returns the live actor of that name. The
// constructor runs asynchronously once the placement resources are free.
func (j *JobContext) CreateActor(ctx context.Context, spec backend.ActorSpec) (backend.ActorInfo, error) {
	if j.closed.Load() {
		return backend.ActorInfo{}, errClosed
	}
	fn := spec.Class
	o := &spec.Options
	placement, held := o.Placement, o.Held
	cl := j.c.classFor(placement, false)
	if o.Bundle != nil {
		var err error
		if cl, err = j.c.classInGroup(placement, false, o.Bundle); err != nil {
			return backend.ActorInfo{}, err
		}
	}
	if cl.shape.infeasible != nil {
		return backend.ActorInfo{}, cl.shape.infeasible
	}
	var pr *procTask
	if !o.RuntimeEnv.IsZero() || cl.shape.gpu > 0 || j.isolation == IsolateProcess || j.c.hasEnv.Load() {
		pr = j.processSpec(0, fray.RuntimeEnv(o.RuntimeEnv), cl.shape.gpu > 0, parentEnv(ctx))
		if pr != nil {
			pr.maxCalls = 0 // an actor's process lives as long as the actor
		}
	}
	arg, err := j.payload(spec.Arg)
	if err != nil {
		return backend.ActorInfo{}, fmt.Errorf("local: actor %s: constructor argument: %w", fn.Name, err)
	}
	ns := o.Namespace
	if ns == "" {
		ns = j.ns
	}
	c := j.c
	a := &actor{c: c, holds: len(held) > 0, maxConc: o.MaxConcurrency, restartsLeft: o.MaxRestarts,
		taskRetries: o.MaxTaskRetries, pr: pr}
	a.gone.L = &a.mu
	a.info = backend.ActorInfo{ID: backend.ActorID(c.tag + "-actor-" + strconv.FormatUint(c.actorSeq.Add(1), 16)),
		Class: fn.Name, Name: o.Name, Namespace: ns}
	if !o.Detached {
		a.owner = j
	}
	t := &task{job: j, fn: fn, class: cl, kind: kindCtor, arg: arg, name: fn.Name, actor: a}
	if pr != nil {
		t.pr = &procTask{env: pr.env} // holds the actor's GPU ids once placed
	}
	t.init()
	t.obj.id = backend.ObjectID(string(a.info.ID) + ".init")
	t.state.Store(stQueued)
	a.ctorTask = t

	c.mu.Lock()
	if c.closed || c.closing.Load() {
		c.mu.Unlock()
		return backend.ActorInfo{}, errClosed
	}
	if cl.pg != nil && cl.pg.state == pgRemoved {
		c.mu.Unlock()
		return backend.ActorInfo{}, cl.pg.removedError("creating actor " + spec.Class.Name)
	}
	if o.Name != "" {
		key := actorKey{ns, o.Name}
		if ex := c.names[key]; ex != nil && !ex.dead() {
			c.mu.Unlock()
			if o.GetIfExists {
				return ex.info, nil
			}
			return backend.ActorInfo{}, fmt.Errorf("local: %w: an actor named %q already lives in namespace %q; choose another name, set GetIfExists to use the existing one, or kill it first", fray.ErrNameTaken, o.Name, ns)
		}
		c.names[key] = a
	}
	if cl.pg != nil {
		cl.pg.actors[a] = struct{}{}
	}
	c.actors.Store(a.info.ID, a)
	c.mu.Unlock()

	if a.owner != nil {
		j.mu.Lock()
		closed := j.closed.Load()
		if !closed {
			j.actors[a] = struct{}{}
		}
		j.mu.Unlock()
		if closed {
			a.kill(true, "its job context was closed")
			return backend.ActorInfo{}, errClosed
		}
	}
	c.submit(t)
	return a.info, nil
}

func (a *actor) dead() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state == acDead
}

func (a *actor) diedError(reason string) *fray.ActorDiedError {
	return &fray.ActorDiedError{ActorID: string(a.info.ID), Name: a.info.Name, Reason: reason}
}

// construct runs the constructor: for the first start on a cluster worker (t is the creation
// task, its placement resources acquired), for a restart on a goroutine of its own (t nil).
func (a *actor) construct(t *task) {
	a.mu.Lock()
	if t != nil {
		if a.state == acDead || !t.state.CompareAndSwap(stQueued, stRunning) {
			a.mu.Unlock()
			return
		}
		a.goroutines++
	} else if a.state == acDead {
		a.goroutineDone()
		a.mu.Unlock()
		return
	}
	a.state = acConstructing
	gen := a.gen
	ct := a.ctorTask
	ctx := &taskCtx{t: ct, attempt: int32(a.restarts)}
	a.ctorCtx = ctx
	a.mu.Unlock()

	var self any
	var err error
	if a.pr != nil {
		self, err = a.startProcess(ctx, gen)
	} else {
		returned := false
		defer func() {
			if !returned { // the constructor called runtime.Goexit (see backend.Function.Invoke)
				a.constructed(t, ctx, gen, nil, ct.fn.GoexitError(string(ct.obj.id)))
			}
		}()
		self, err = ct.invoke(ctx, nil)
		returned = true
	}
	a.constructed(t, ctx, gen, self, err)
}

// constructed handles what the constructor started by construct returned: ctx and gen are
// its context and the actor's generation then.
func (a *actor) constructed(t *task, ctx *taskCtx, gen uint64, self any, err error) {
	if t != nil && err == nil && !a.holds {
		// Placement-only resources go back before the first call can run, so that the node's
		// accounting is settled by the time a caller sees a result.
		a.c.releaseTask(t)
		t.keep = true
	}

	a.mu.Lock()
	var failed []*task
	var start int
	died := false
	switch {
	case a.gen != gen || a.state == acDead:
		ctx.cancel() // killed or restarted meanwhile: this instance is discarded
		a.stopProcessLocked(self)
		if t != nil && a.holds && a.state != acDead && !t.keep {
			t.keep = true // restarted: the new instance keeps the placement resources
			a.holding = true
		}
	case a.pr != nil && isWorkerDied(err):
		// The process died while starting or constructing (killed, OOM): a worker death,
		// so the actor restarts if it may, as when its process dies later.
		ctx.cancel()
		if t != nil {
			if a.holds {
				t.keep = true // a restart keeps the placement resources (death releases them)
				a.holding = true
			}
			t.state.Store(stFinished)
		}
		a.goroutineDone()
		a.stopLocked(false, true, "its worker process died while starting ("+err.(*fray.WorkerDiedError).Reason+")")
		return
	case err != nil:
		ctx.cancel()
		failed = a.dieLocked("the constructor failed: " + err.Error())
		died = true
	default:
		a.self = self
		a.state = acAlive
		if t != nil && a.holds {
			t.keep = true // the placement resources stay with the actor
			a.holding = true
		}
		start = a.spawnLocked()
	}
	if t != nil {
		t.state.Store(stFinished)
	}
	a.goroutineDone()
	a.mu.Unlock()
	if died {
		a.afterDeath(failed)
	}
	a.startDrainers(start, gen)
}

// isWorkerDied reports whether err is the pool's *fray.WorkerDiedError itself, not an
// application error (a *fray.TaskError) that wraps one.
func isWorkerDied(err error) bool {
	_, ok := err.(*fray.WorkerDiedError)
	return ok
}

// GetActor finds a live named actor in namespace ("" means the job's namespace). Named actors
// of every job context on the cluster are visible, as on a Ray cluster.
func (j *JobContext) GetActor(ctx context.Context, name, namespace string) (backend.ActorInfo, error) {
	if j.closed.Load() {
		return backend.ActorInfo{}, errClosed
	}
	if namespace == "" {
		namespace = j.ns
	}
	j.c.mu.Lock()
	a := j.c.names[actorKey{namespace, name}]
	j.c.mu.Unlock()
	if a == nil || a.dead() {
		return backend.ActorInfo{}, &fray.UnknownNameError{What: "named actor", Name: name,
			Hint: fmt.Sprintf("no live actor of that name in namespace %q; names are per namespace, and an actor's name is freed when it dies", namespace)}
	}
	return a.info, nil
}
