package freshproc

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/worker"
)

type actorState int

const (
	starting actorState = iota // the first instance is being made, or a restart
	alive
	dead
)

// actor is one actor: a worker process of its own, restarted while restarts are left.
type actor struct {
	j     *JobContext // the job that made it: its processes' host
	c     *Cluster
	info  backend.ActorInfo
	class *backend.Function
	arg   []byte
	opts  backend.ActorOptions
	env   map[string]string

	mu           sync.Mutex
	state        actorState
	changed      chan struct{} // closed and replaced on every state change
	proc         *worker.Process
	gen          int // instance number; a death is handled once per instance
	restartsLeft int
	forGood      bool // killed without restart
	deadErr      error
	queue        []*call
	slots        chan struct{} // MaxConcurrency
	held         bool          // Held resources are taken
}

// call is one actor method call.
type call struct {
	j       *JobContext // the caller's job: the result is its object
	id      backend.ObjectID
	obj     *object
	method  *backend.Function
	arg     []byte
	argRef  backend.ObjectID
	retries int // MaxTaskRetries left
	ctx     context.Context
	cancel  context.CancelFunc
	taskID  string
}

// CreateActor implements backend.JobContext. The actor is made in the background: calls
// wait for it, and fail with a *fray.ActorDiedError if its constructor fails.
func (j *JobContext) CreateActor(ctx context.Context, spec backend.ActorSpec) (backend.ActorInfo, error) {
	if j.isClosed() {
		return backend.ActorInfo{}, errClosed
	}
	o := spec.Options
	if len(o.RuntimeEnv.PackageRequirements) > 0 {
		return backend.ActorInfo{}, unsupportedRequirements()
	}
	if err := j.c.feasible(o.Placement); err != nil {
		return backend.ActorInfo{}, err
	}
	if err := j.c.feasible(o.Held); err != nil {
		return backend.ActorInfo{}, err
	}
	arg, err := spec.Arg.Encoded(fray.Marshal)
	if err != nil {
		return backend.ActorInfo{}, err
	}
	ns := o.Namespace
	if ns == "" {
		ns = j.ns
	}
	a := &actor{j: j, c: j.c, class: spec.Class, arg: append([]byte(nil), arg...), opts: o,
		env: mergeEnv(j.envOf(ctx), o.RuntimeEnv.Env), changed: make(chan struct{}),
		restartsLeft: o.MaxRestarts, slots: make(chan struct{}, o.MaxConcurrency)}
	j.pin(a.arg)
	c := j.c
	c.mu.Lock()
	c.seq++
	a.info = backend.ActorInfo{ID: backend.ActorID(fmt.Sprintf("%s-a%d", j.id, c.seq)), Class: spec.Class.Name, Name: o.Name, Namespace: ns}
	if o.Name != "" {
		key := ns + "\x00" + o.Name
		if old := c.names[key]; old != nil {
			c.mu.Unlock()
			if !o.GetIfExists {
				return backend.ActorInfo{}, fmt.Errorf("%w: %q in namespace %q; pass GetIfExists to use it, or kill it first", fray.ErrNameTaken, o.Name, ns)
			}
			if old.class.Name != spec.Class.Name {
				return backend.ActorInfo{}, fmt.Errorf("%w: actor %q in namespace %q is a %s, not a %s", fray.ErrInvalidArgument, o.Name, ns, old.class.Name, spec.Class.Name)
			}
			return old.info, nil
		}
		c.names[key] = a
	}
	c.actors[a.info.ID] = a
	c.mu.Unlock()
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		if err := c.acquire(j.base, o.Held, j.closed); err != nil {
			a.die(fmt.Sprintf("its resources were never granted: %v", err))
			return
		}
		a.mu.Lock()
		a.held = true
		gen := a.gen
		a.mu.Unlock()
		a.boot(gen)
	}()
	go a.dispatch()
	return a.info, nil
}

// GetActor implements backend.JobContext.
func (j *JobContext) GetActor(ctx context.Context, name, namespace string) (backend.ActorInfo, error) {
	if j.isClosed() {
		return backend.ActorInfo{}, errClosed
	}
	if namespace == "" {
		namespace = j.ns
	}
	j.c.mu.Lock()
	a := j.c.names[namespace+"\x00"+name]
	j.c.mu.Unlock()
	if a == nil {
		return backend.ActorInfo{}, &fray.UnknownNameError{What: "named actor", Name: name,
			Hint: fmt.Sprintf("no live actor has that name in namespace %q", namespace)}
	}
	return a.info, nil
}

// boot starts instance gen: a fresh worker process running the constructor.
func (a *actor) boot(gen int) {
	ctx := a.j.base
	if a.opts.Detached {
		ctx = context.Background() // a detached actor outlives its creator's job
	}
	p, err := worker.Start(ctx, worker.Options{Env: envList(a.env), Host: a.j})
	if err == nil {
		err = p.CreateActor(ctx, a.class, a.arg, a.info.ID, a.opts.MaxConcurrency,
			backend.TaskInfo{JobID: a.j.id, TaskID: string(a.info.ID) + "-ctor", Name: a.class.Name})
		if err != nil {
			p.Abort()
		}
	}
	a.mu.Lock()
	if a.gen != gen || a.state == dead {
		a.mu.Unlock()
		if p != nil && err == nil {
			p.Abort()
		}
		return
	}
	if err != nil {
		a.mu.Unlock()
		a.die("its constructor failed: " + err.Error())
		return
	}
	a.proc, a.state = p, alive
	a.signalLocked()
	a.mu.Unlock()
	go func() {
		<-p.Done()
		if err := p.Err(); err != nil { // died on its own
			a.died(gen, err.Error())
		}
	}()
}

func (a *actor) signalLocked() {
	close(a.changed)
	a.changed = make(chan struct{})
}

func (a *actor) diedErr(reason string) error {
	return &fray.ActorDiedError{ActorID: string(a.info.ID), Name: a.info.Name, Reason: reason}
}

// die ends the actor for good: queued calls fail, its name and resources are free.
func (a *actor) die(reason string) {
	a.mu.Lock()
	if a.state == dead {
		a.mu.Unlock()
		return
	}
	a.dieLocked(reason)
	a.mu.Unlock()
}

func (a *actor) dieLocked(reason string) {
	a.state = dead
	a.deadErr = a.diedErr(reason)
	a.gen++
	if a.proc != nil {
		a.proc.Kill()
	}
	q := a.queue
	a.queue = nil
	a.signalLocked()
	held := a.held
	a.held = false
	for _, c := range q {
		c.j.set(c.obj, nil, a.deadErr)
	}
	if held {
		a.c.release(a.opts.Held)
	}
	a.c.mu.Lock()
	if a.info.Name != "" && a.c.names[a.info.Namespace+"\x00"+a.info.Name] == a {
		delete(a.c.names, a.info.Namespace+"\x00"+a.info.Name)
	}
	a.c.mu.Unlock()
}

// died handles the death of instance gen: a restart while restarts are left (queued calls
// without task retries fail), otherwise the end.
func (a *actor) died(gen int, reason string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if gen != a.gen || a.state == dead {
		return
	}
	if a.forGood || a.restartsLeft == 0 {
		a.dieLocked(reason)
		return
	}
	if a.restartsLeft > 0 {
		a.restartsLeft--
	}
	if a.proc != nil {
		a.proc.Kill()
		a.proc = nil
	}
	a.gen++
	a.state = starting
	kept := a.queue[:0]
	for _, c := range a.queue {
		if c.retries != 0 {
			c.retries--
			kept = append(kept, c)
		} else {
			c.j.set(c.obj, nil, a.diedErr(reason+" (the actor is restarting; the call is not retried without MaxTaskRetries)"))
		}
	}
	a.queue = kept
	a.signalLocked()
	a.j.wg.Add(1)
	go func(g int) {
		defer a.j.wg.Done()
		a.boot(g)
	}(a.gen)
}

// kill is KillActor's work.
func (a *actor) kill(noRestart bool, reason string) {
	a.mu.Lock()
	if noRestart {
		a.forGood = true
	}
	gen := a.gen
	a.mu.Unlock()
	a.died(gen, reason)
}

// KillActor implements backend.JobContext.
func (j *JobContext) KillActor(ctx context.Context, id backend.ActorID, noRestart bool) error {
	if j.isClosed() {
		return errClosed
	}
	j.c.mu.Lock()
	a := j.c.actors[id]
	j.c.mu.Unlock()
	if a == nil {
		return &fray.ActorDiedError{ActorID: string(id), Reason: "no such actor on this cluster"}
	}
	a.kill(noRestart, "killed by KillActor")
	return nil
}

// CallActor implements backend.JobContext: calls start in submission order, one at a time
// unless the actor's MaxConcurrency is above 1.
func (j *JobContext) CallActor(ctx context.Context, ac backend.ActorCall) (backend.ObjectID, error) {
	if j.isClosed() {
		return "", errClosed
	}
	j.c.mu.Lock()
	a := j.c.actors[ac.Actor]
	j.c.mu.Unlock()
	if a == nil {
		return "", &fray.ActorDiedError{ActorID: string(ac.Actor), Reason: "no such actor on this cluster"}
	}
	c := &call{j: j, method: ac.Method, argRef: ac.ArgRef, retries: a.opts.MaxTaskRetries, taskID: fmt.Sprintf("c%d", j.c.next())}
	if ac.ArgRef == "" {
		b, err := ac.Arg.Encoded(fray.Marshal)
		if err != nil {
			return "", err
		}
		c.arg = append([]byte(nil), b...)
		j.pin(c.arg)
	} else if _, err := j.lookup(ac.ArgRef); err != nil {
		return "", err
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.id, c.obj = j.newObject()
	j.mu.Lock()
	j.calls()[c.id] = c
	j.mu.Unlock()
	a.mu.Lock()
	if a.state == dead {
		err := a.deadErr
		a.mu.Unlock()
		j.set(c.obj, nil, err)
		return c.id, nil
	}
	a.queue = append(a.queue, c)
	a.signalLocked()
	a.mu.Unlock()
	return c.id, nil
}

// dispatch starts the actor's calls in order, as slots free up.
func (a *actor) dispatch() {
	for {
		a.slots <- struct{}{}
		c, p, gen := a.next()
		if c == nil {
			return
		}
		go a.run(c, p, gen)
	}
}

// next takes the first queued call once the actor is alive (its ref argument resolved),
// or returns nil once the actor is dead.
func (a *actor) next() (*call, *worker.Process, int) {
	for {
		a.mu.Lock()
		if a.state == dead {
			a.mu.Unlock()
			return nil, nil, 0
		}
		if a.state == alive && len(a.queue) > 0 {
			c := a.queue[0]
			if c.ctx.Err() != nil { // cancelled while queued: never runs
				a.queue = a.queue[1:]
				a.mu.Unlock()
				continue
			}
			if c.argRef != "" && c.arg == nil {
				a.mu.Unlock()
				if err := a.resolve(c); err != nil {
					a.mu.Lock()
					if len(a.queue) > 0 && a.queue[0] == c {
						a.queue = a.queue[1:]
					}
					a.mu.Unlock()
					c.j.set(c.obj, nil, err)
				}
				continue
			}
			a.queue = a.queue[1:]
			p, gen := a.proc, a.gen
			a.mu.Unlock()
			return c, p, gen
		}
		ch := a.changed
		a.mu.Unlock()
		<-ch
	}
}

// resolve fetches a call's ref argument; a failed one is the call's error.
func (a *actor) resolve(c *call) error {
	o, err := c.j.lookup(c.argRef)
	if err == nil {
		err = c.j.wait(c.ctx, o)
	}
	if err != nil {
		return err
	}
	if o.err != nil {
		return o.err
	}
	c.arg = o.data
	if c.arg == nil {
		c.arg = []byte{}
	}
	return nil
}

// run sends one call to instance gen and settles its result.
func (a *actor) run(c *call, p *worker.Process, gen int) {
	out, err := p.CallActor(c.ctx, a.info.ID, c.method, c.arg,
		backend.TaskInfo{JobID: c.j.id, TaskID: c.taskID, Name: c.method.Name})
	<-a.slots
	if err != nil && (errors.Is(err, fray.ErrWorkerDied) || errors.Is(err, fray.ErrClosed)) {
		a.died(gen, err.Error())
		a.mu.Lock()
		if a.state != dead && c.retries != 0 {
			c.retries--
			a.queue = append([]*call{c}, a.queue...)
			a.signalLocked()
			a.mu.Unlock()
			return
		}
		reason := "its process died while the call ran: " + err.Error()
		if a.deadErr != nil {
			reason = a.deadErr.(*fray.ActorDiedError).Reason
		}
		a.mu.Unlock()
		c.j.set(c.obj, nil, a.diedErr(reason))
		return
	}
	c.j.set(c.obj, out, err)
}

// calls is the job's actor calls by result id, for Cancel.
func (j *JobContext) calls() map[backend.ObjectID]*call {
	if j.actorCalls == nil {
		j.actorCalls = map[backend.ObjectID]*call{}
	}
	return j.actorCalls
}

// cancelCall cancels an actor call's ctx; its result becomes a *fray.CancelledError.
func (j *JobContext) cancelCall(id backend.ObjectID) {
	j.mu.Lock()
	c := j.calls()[id]
	j.mu.Unlock()
	if c == nil {
		return
	}
	j.set(c.obj, nil, &fray.CancelledError{TaskID: c.taskID})
	c.cancel()
}
