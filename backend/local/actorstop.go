// An actor's end: KillActor, restarts (which keep or fail its queued calls) and death.

package local

import (
	"context"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

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
