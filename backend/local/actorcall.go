// An actor's calls: the mailbox, its drainer goroutines, and one call's run and outcome.

package local

import (
	"context"
	"fmt"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/procpool"
)

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
