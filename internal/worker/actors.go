// The server's actors: each actor's state in the worker and its queue of method calls.

package worker

import (
	"fmt"
	"sync"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/wire"
)

// actor is one actor's state in this process and its queue of calls. Calls start in
// arrival order, at most maxConc at once (1 by default: one at a time); the constructor
// runs first and alone.
type actor struct {
	id, class string
	maxConc   int

	mu          sync.Mutex
	queue       []actorJob
	running     int  // calls (or the constructor) started and not finished
	constructed bool // the constructor has returned
	state       any
}

type actorJob struct {
	id  uint64
	c   *call
	run func(c *call) wire.Result
}

func (s *server) createActor(id uint64, m *wire.CreateActor) {
	s.mu.Lock()
	if _, dup := s.actors[m.ActorID]; dup || m.ActorID == "" {
		s.mu.Unlock()
		s.answer(id, errResult(fmt.Errorf("%w: actor id %q is empty or already in use in worker %d", fray.ErrInvalidArgument, m.ActorID, s.pid)))
		return
	}
	// running counts the constructor: no call starts until it has returned
	a := &actor{id: m.ActorID, class: m.Class, maxConc: max(m.MaxConcurrency, 1), running: 1}
	s.actors[m.ActorID] = a
	s.mu.Unlock()
	info := m.Info
	info.ActorID = m.ActorID
	c := s.newCall(id, info)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		var st any
		f, err := lookup(m.Class, backend.KindActorClass)
		returned := false
		defer func() {
			if !returned { // the constructor called runtime.Goexit (see backend.Function.Invoke)
				s.constructed(id, a, nil, f.GoexitError(info.TaskID))
			}
		}()
		if err == nil {
			var arg any
			if arg, err = f.DecodeArg(backend.Payload{Data: m.Arg, Owned: true}); err == nil {
				st, err = f.Invoke(c.ctx, nil, arg)
			}
		}
		returned = true
		s.constructed(id, a, st, err)
	}()
}

// constructed answers request id, the creation of a, with what its constructor returned,
// and lets queued calls start (or fail).
func (s *server) constructed(id uint64, a *actor, st any, err error) {
	if err != nil {
		s.dropActor(a, fmt.Sprintf("its constructor failed: %v", err))
		s.answer(id, errResult(err))
	} else {
		a.mu.Lock()
		a.state = st
		a.mu.Unlock()
		s.answer(id, wire.Result{})
	}
	a.mu.Lock()
	a.constructed = true
	a.mu.Unlock()
	s.jobDone(a)
}

// callActor queues a method call, or returns it to run at once when the actor can start
// it now (nothing queued, a free slot).
func (s *server) callActor(id uint64, m *wire.CallActor) func() {
	s.mu.Lock()
	a := s.actors[m.ActorID]
	s.mu.Unlock()
	if a == nil {
		s.answer(id, errResult(&fray.ActorDiedError{ActorID: m.ActorID,
			Reason: fmt.Sprintf("worker process %d holds no actor with this id (never created here, its constructor failed, or it was released)", s.pid)}))
		return nil
	}
	info := m.Info
	info.ActorID = m.ActorID
	c := s.newCall(id, info)
	j := actorJob{id: id, c: c, run: func(c *call) wire.Result {
		if c.ctx.Err() != nil {
			return s.cancelledResult(info)
		}
		f, err := lookup(m.Method, backend.KindMethod)
		if err == nil && f.Class != a.class {
			err = fmt.Errorf("%w: method %s called on an actor of class %s", fray.ErrInvalidArgument, m.Method, a.class)
		}
		if err != nil {
			return errResult(err)
		}
		arg, err := f.DecodeArg(backend.Payload{Data: m.Arg, Owned: true})
		if err != nil {
			return errResult(err)
		}
		a.mu.Lock()
		st := a.state
		a.mu.Unlock()
		if st == nil {
			return errResult(&fray.ActorDiedError{ActorID: a.id, Reason: "the actor has no state (its constructor failed)"})
		}
		returned := false
		defer func() {
			if !returned { // the method called runtime.Goexit (see backend.Function.Invoke)
				s.answer(id, errResult(f.GoexitError(info.TaskID)))
			}
		}()
		v, err := f.Invoke(s.streamCtx(id, c, f), st, arg)
		returned = true
		return s.finish(c, info.TaskID, v, err)
	}}
	s.wg.Add(1)
	a.mu.Lock()
	if a.constructed && len(a.queue) == 0 && a.running < a.maxConc {
		a.running++
		a.mu.Unlock()
		return func() { s.runJob(a, j) }
	}
	a.queue = append(a.queue, j)
	a.mu.Unlock()
	s.startQueued(a)
	return nil
}

// runJob runs one started call of a, then lets queued calls start.
func (s *server) runJob(a *actor, j actorJob) {
	defer s.wg.Done()
	defer s.jobDone(a)
	if !s.acquire(j.c.ctx) {
		s.answer(j.id, s.cancelledResult(wire.TaskInfo{}))
		return
	}
	defer s.release()
	s.answer(j.id, j.run(j.c))
}

// jobDone frees the slot of a finished call (or of the constructor) and starts queued calls.
func (s *server) jobDone(a *actor) {
	a.mu.Lock()
	a.running--
	a.mu.Unlock()
	s.startQueued(a)
}

// startQueued starts queued calls, in order, while the actor has free slots.
func (s *server) startQueued(a *actor) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.constructed && len(a.queue) > 0 && a.running < a.maxConc {
		j := a.queue[0]
		a.queue = a.queue[1:]
		a.running++
		go s.runJob(a, j)
	}
}

// releaseActor forgets an actor: new calls fail; queued and running ones finish.
func (s *server) releaseActor(id string) {
	s.mu.Lock()
	delete(s.actors, id)
	s.mu.Unlock()
}

// dropActor makes an actor whose constructor failed unreachable and fails its queued calls.
func (s *server) dropActor(a *actor, reason string) {
	s.mu.Lock()
	if s.actors[a.id] == a {
		delete(s.actors, a.id)
	}
	s.mu.Unlock()
	a.mu.Lock()
	q := a.queue
	a.queue = nil
	a.mu.Unlock()
	for _, j := range q {
		s.answer(j.id, errResult(&fray.ActorDiedError{ActorID: a.id, Reason: reason}))
		s.wg.Done()
	}
}
