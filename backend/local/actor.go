package local

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/procpool"
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

// spawnLocked counts the drainers to start for the queued calls.
func (a *actor) spawnLocked() int {
	if a.state != acAlive {
		return 0
	}
	n := 0
	for q := a.head; q != nil && a.drainers < a.maxConc; q = q.next {
		a.drainers++
		a.goroutines++
		n++
	}
	return n
}

func (a *actor) startDrainers(n int, gen uint64) {
	for range n {
		a.c.spawn(work{a: a, gen: gen})
	}
}

func (a *actor) goroutineDone() {
	a.goroutines--
	if a.goroutines == 0 {
		a.gone.Broadcast()
	}
}

func (a *actor) waitGoroutines() {
	a.mu.Lock()
	for a.goroutines > 0 {
		a.gone.Wait()
	}
	a.mu.Unlock()
}

// CallActor queues a method call in the actor's mailbox.
func (j *JobContext) CallActor(ctx context.Context, call backend.ActorCall) (backend.ObjectID, error) {
	return j.callActor(ctx, call, nil)
}

// callActor is CallActor; with stream set, of a streaming method whose items go there.
func (j *JobContext) callActor(ctx context.Context, call backend.ActorCall, stream *streamBuf) (backend.ObjectID, error) {
	if j.closed.Load() {
		return "", errClosed
	}
	fn := call.Method // the API checked it is a method of the handle's class
	if err := checkStreaming(fn, stream); err != nil {
		return "", err
	}
	v, _ := j.c.actors.Load(call.Actor)
	a, _ := v.(*actor)
	arg, err := j.payload(call.Arg)
	if err != nil {
		return "", fmt.Errorf("local: method %s: argument: %w", fn.Name, err)
	}
	t := &task{job: j, fn: fn, kind: kindCall, arg: arg, name: fn.Name, actor: a, stream: stream}
	if a != nil && stream == nil { // a stream is not run again: its consumer saw items of the first run
		t.retriesLeft = int32(a.taskRetries)
	}
	t.init()
	t.state.Store(stQueued)
	j.mu.Lock()
	if j.closed.Load() {
		j.mu.Unlock()
		return "", errClosed
	}
	if call.ArgRef != "" {
		dep, ok := j.objectLocked(call.ArgRef)
		if !ok {
			j.mu.Unlock()
			return "", unknownObject(call.ArgRef)
		}
		t.dep = dep
	}
	id := j.newIDLocked(&t.obj)
	if stream != nil {
		stream.id = id
	}
	j.mu.Unlock()
	if a == nil {
		j.complete(&t.obj, backend.Payload{}, &fray.ActorDiedError{ActorID: string(call.Actor),
			Reason: "no actor with this id lives on this cluster (it belongs to another cluster, or its cluster was closed)"})
		return id, nil
	}
	a.enqueue(t)
	return id, nil
}

func (a *actor) enqueue(t *task) {
	a.mu.Lock()
	if a.state == acDead {
		err := a.diedError(a.reason)
		a.mu.Unlock()
		t.job.complete(&t.obj, backend.Payload{}, err)
		return
	}
	a.appendLocked(t)
	start := a.state == acAlive && a.drainers < a.maxConc
	if start {
		a.drainers++
		a.goroutines++
	}
	gen := a.gen
	a.mu.Unlock()
	if start {
		a.c.spawn(work{a: a, gen: gen})
	}
}

// drain runs queued calls of generation gen until the mailbox is empty or the actor is killed
// or restarted. prev is the call this drainer ran last, when it continues another goroutine's.
func (a *actor) drain(gen uint64, prev *task) {
	var cur *task // running now
	defer func() {
		if cur != nil { // its method ended this goroutine with runtime.Goexit: carry on elsewhere
			a.c.spawn(work{a: a, gen: gen, t: cur})
		}
	}()
	a.mu.Lock()
	for {
		if prev != nil {
			if a.gen == gen { // else a restart took it (and may run it again in another generation)
				a.removeInflight(prev)
			}
			prev = nil
		}
		if a.gen != gen || a.state != acAlive || a.head == nil {
			break
		}
		t := a.head
		a.head = t.next
		if a.head == nil {
			a.tail = nil
		}
		t.next = nil
		if t.state.Load() != stQueued {
			continue // cancelled while queued
		}
		a.inflight = append(a.inflight, t)
		self := a.self
		a.mu.Unlock()
		cur = t
		a.call(t, self, gen)
		cur = nil
		prev = t
		a.mu.Lock()
	}
	if a.gen == gen {
		a.drainers--
	}
	a.goroutineDone()
	a.mu.Unlock()
}

func (a *actor) removeInflight(t *task) {
	for i, x := range a.inflight {
		if x == t {
			last := len(a.inflight) - 1
			a.inflight[i] = a.inflight[last]
			a.inflight[last] = nil
			a.inflight = a.inflight[:last]
			return
		}
	}
}

// call runs one method call on a drainer of generation gen.
func (a *actor) call(t *task, self any, gen uint64) {
	j := t.job
	if !j.enter() {
		return
	}
	if !t.state.CompareAndSwap(stQueued, stRunning) {
		j.exit()
		return
	}
	ctx := t.ctx.Load()
	if d := t.dep; d != nil && !j.waitObject(ctx, d) {
		ctx.cancel() // cancelled or killed while waiting for the argument; already completed
		j.exit()
		return
	}
	var res any
	var err error
	if t.dep != nil && t.dep.err != nil {
		err = t.dep.err // the argument failed: fail with the same error without running
		t.state.CompareAndSwap(stRunning, stFinished)
		j.complete(&t.obj, backend.Payload{}, err)
		ctx.cancel()
		j.exit()
		return
	}
	var p backend.Payload
	if pa, ok := self.(*procpool.Actor); ok && a.pr != nil {
		var died error
		p, err, died = a.callProcess(ctx, t, pa)
		if died != nil {
			// The process died under the call. Handle the death now rather than when the
			// pool reports it, so that with retries left this call is among those the
			// restart runs again.
			a.processDied(gen, died)
		}
	} else {
		returned := false
		defer func() {
			if !returned { // the method called runtime.Goexit (see backend.Function.Invoke)
				p, err := j.encodeResult(t, nil, t.fn.GoexitError(string(t.obj.id)))
				a.called(t, ctx, p, err)
			}
		}()
		res, err = t.invoke(ctx, self)
		returned = true
		p, err = j.encodeResult(t, res, err)
	}
	a.called(t, ctx, p, err)
}

// called completes method call t, whose attempt ran with ctx, with its result.
func (a *actor) called(t *task, ctx *taskCtx, p backend.Payload, err error) {
	j := t.job
	ctx.cancel()
	if !a.finishAttempt(t, ctx) {
		j.exit() // the actor restarted meanwhile and runs the call again (MaxTaskRetries)
		return
	}
	t.arg, t.dep = backend.Payload{}, nil
	j.complete(&t.obj, p, err)
	j.exit()
}

// finishAttempt marks a call's attempt (its context ctx) finished, unless a restart queued
// the call again meanwhile (false: this attempt's outcome is void). Under a.mu, so that a
// restart either sees the call finished or takes it back before it completes.
func (a *actor) finishAttempt(t *task, ctx *taskCtx) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t.ctx.Load() != ctx {
		return false
	}
	t.state.CompareAndSwap(stRunning, stFinished)
	return true
}

// waitObject waits until o is done (true) or ctx is cancelled (false).
func (j *JobContext) waitObject(ctx *taskCtx, o *object) bool {
	j.mu.Lock()
	if o.done {
		j.mu.Unlock()
		return true
	}
	w := newWaiter(1)
	o.addWaiter(w)
	j.mu.Unlock()
	ok := true
	select {
	case <-w.ch:
	case <-ctx.Done():
		ok = false
	}
	j.mu.Lock()
	unregister(w, []*object{o})
	freeWaiter(w)
	j.mu.Unlock()
	return ok
}

// KillActor kills an actor: queued and running calls fail with *fray.ActorDiedError (running
// ones also have their contexts cancelled). With noRestart false and restarts left, the
// constructor runs again on a fresh state and later calls go to it.
func (j *JobContext) KillActor(ctx context.Context, id backend.ActorID, noRestart bool) error {
	if j.closed.Load() {
		return errClosed
	}
	v, ok := j.c.actors.Load(id)
	if !ok {
		return &fray.UnknownNameError{What: "actor", Name: string(id), Hint: "no actor with this id was created on this cluster"}
	}
	v.(*actor).kill(noRestart, "it was killed with KillActor")
	return nil
}

// kill fails the actor's queued and running calls and then restarts it (when allowed and
// restarts are left) or marks it dead.
func (a *actor) kill(noRestart bool, reason string) {
	a.mu.Lock()
	a.killLocked(noRestart, reason)
}

// killLocked is kill with a.mu held; it unlocks a.mu.
func (a *actor) killLocked(noRestart bool, reason string) { a.stopLocked(noRestart, false, reason) }

// stopLocked is killLocked; with keepQueued, a restart keeps every queued call (the instance
// died before it could run any).
func (a *actor) stopLocked(noRestart, keepQueued bool, reason string) {
	if a.state == acDead {
		a.mu.Unlock()
		return
	}
	restart := !noRestart && a.restartsLeft != 0
	var failed []*task // cancelTask below also cancels the running ones' contexts
	if restart {
		if !keepQueued {
			failed = a.keepRetriesLocked()
		}
	} else {
		failed = a.takeCallsLocked()
	}
	a.stopProcessLocked(a.self)
	var died bool
	if restart {
		if a.restartsLeft > 0 {
			a.restartsLeft--
		}
		a.restarts++
		reason += "; the actor is restarting with a fresh state (calls made before the restart are lost; ActorOptions.MaxTaskRetries runs them again)"
		a.gen++
		a.drainers = 0
		a.self = nil
		if a.ctorCtx != nil {
			a.ctorCtx.cancel()
			a.ctorCtx = nil
		}
		if a.state != acPending { // a pending actor's creation task will construct it
			a.state = acConstructing
			a.goroutines++
			go a.construct(nil)
		}
	} else {
		failed = append(failed, a.dieLocked(reason)...)
		died = true
	}
	err := a.diedError(reason)
	err.Restarting = restart
	a.mu.Unlock()
	for _, t := range failed {
		t.job.cancelTask(t, err)
	}
	if died {
		a.afterDeath(nil)
	}
}

// appendLocked adds t to the end of the mailbox.
func (a *actor) appendLocked(t *task) {
	if a.tail == nil {
		a.head = t
	} else {
		a.tail.next = t
	}
	a.tail = t
}

// keepRetriesLocked prepares the calls for a restart: those with retries left stay (queued
// ones as they are; running ones, each using a retry, go back ahead of them in a fresh
// attempt whose old context is cancelled), and the rest are returned, to fail.
func (a *actor) keepRetriesLocked() []*task {
	var failed, again, queued []*task
	for _, t := range a.takeCallsLocked() {
		switch {
		case t.retriesLeft == 0:
			failed = append(failed, t)
		case t.state.CompareAndSwap(stRunning, stQueued):
			if t.retriesLeft > 0 {
				t.retriesLeft--
			}
			t.attempt++
			old := t.ctx.Load()
			t.ctx.Store(&taskCtx{t: t, attempt: t.attempt})
			old.cancel()
			again = append(again, t)
		case t.state.Load() == stQueued:
			queued = append(queued, t)
		default:
			failed = append(failed, t) // finishing or cancelled meanwhile: cancelTask leaves it be
		}
	}
	for _, t := range append(again, queued...) {
		a.appendLocked(t)
	}
	return failed
}

// takeCallsLocked empties the mailbox and the running set and returns their calls, queued
// ones first.
func (a *actor) takeCallsLocked() []*task {
	var calls []*task
	for t := a.head; t != nil; {
		next := t.next
		t.next = nil
		calls = append(calls, t)
		t = next
	}
	a.head, a.tail = nil, nil
	calls = append(calls, a.inflight...)
	a.inflight = nil
	return calls
}

// dieLocked marks the actor dead and returns the calls to fail.
func (a *actor) dieLocked(reason string) []*task {
	for _, t := range a.inflight {
		t.cancelCtx()
	}
	failed := a.takeCallsLocked()
	a.stopProcessLocked(a.self)
	a.state = acDead
	a.reason = reason
	a.gen++
	a.drainers = 0
	a.self = nil
	if a.ctorCtx != nil {
		a.ctorCtx.cancel()
		a.ctorCtx = nil
	}
	// A creation still queued for placement never runs.
	a.ctorTask.state.CompareAndSwap(stQueued, stCancelled)
	return failed
}

// afterDeath fails the calls, gives the held resources back and frees the name.
func (a *actor) afterDeath(failed []*task) {
	if len(failed) > 0 {
		a.mu.Lock()
		err := a.diedError(a.reason)
		a.mu.Unlock()
		for _, t := range failed {
			t.job.cancelTask(t, err)
		}
	}
	a.mu.Lock()
	holding := a.holding
	a.holding = false
	a.mu.Unlock()
	if holding {
		a.c.releaseTask(a.ctorTask)
	}
	c := a.c
	c.mu.Lock()
	key := actorKey{a.info.Namespace, a.info.Name}
	if a.info.Name != "" && c.names[key] == a {
		delete(c.names, key)
	}
	if g := a.ctorTask.class.pg; g != nil {
		delete(g.actors, a)
	}
	c.mu.Unlock()
	if a.owner != nil {
		a.owner.mu.Lock()
		delete(a.owner.actors, a)
		a.owner.mu.Unlock()
	}
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
