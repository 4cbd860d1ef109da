package actorpool

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/fray-go/fray"
)

// DefaultMaxInFlight is Options.MaxInFlight's default: one call running on the actor and
// one queued behind it, so the actor does not sit idle while a result travels back and the
// next item travels out.
const DefaultMaxInFlight = 2

// DefaultMaxRetries is Options.MaxRetries' default, Ray's default task retry count.
const DefaultMaxRetries = fray.DefaultMaxRetries

// cancelGrace bounds the best-effort fray.Cancel of an item whose ctx ended.
const cancelGrace = 5 * time.Second

// Options configure a pool.
type Options struct {
	// Size is the number of actors (at least 1).
	Size int
	// Actor are the options every actor is created with (resources such as one GPU each,
	// runtime environment, MaxConcurrency). Name must be empty: a pool's actors are
	// unnamed.
	Actor fray.ActorOptions
	// MaxInFlight bounds the calls submitted to one actor and not finished (backpressure).
	// 0 means DefaultMaxInFlight.
	MaxInFlight int
	// MaxRetries is how often an item whose actor died under it is run again on another
	// actor. nil means DefaultMaxRetries; fray.Retries(0) for none.
	MaxRetries *int
	// MaxReplacements bounds how many actors the pool creates, over its life, to replace
	// dead ones. nil means Size × DefaultMaxRetries; fray.Retries(0) for none.
	MaxReplacements *int
}

// resolved are Options with their defaults applied.
type resolved struct {
	size, maxInFlight, maxRetries, maxReplacements int
	actor                                          fray.ActorOptions
}

// resolve validates o and applies the defaults.
func (o Options) resolve() (resolved, error) {
	r := resolved{size: o.Size, maxInFlight: o.MaxInFlight, maxRetries: DefaultMaxRetries, actor: o.Actor}
	switch {
	case o.Size < 1:
		return r, invalid("Size must be at least 1, got %d", o.Size)
	case o.MaxInFlight < 0:
		return r, invalid("MaxInFlight must be >= 0 (0 means %d), got %d", DefaultMaxInFlight, o.MaxInFlight)
	case o.MaxRetries != nil && *o.MaxRetries < 0:
		return r, invalid("MaxRetries must be >= 0, got %d", *o.MaxRetries)
	case o.MaxReplacements != nil && *o.MaxReplacements < 0:
		return r, invalid("MaxReplacements must be >= 0, got %d", *o.MaxReplacements)
	case o.Actor.Name != "" || o.Actor.GetIfExists:
		return r, invalid("Actor.Name must be empty (got %q): a pool's actors are unnamed; name the pool's owner instead", o.Actor.Name)
	case o.Actor.Lifetime == fray.Detached:
		return r, invalid("Actor.Lifetime must be job-scoped: a pool kills its actors on Close")
	}
	if err := o.Actor.Validate(); err != nil {
		return r, err
	}
	if r.maxInFlight == 0 {
		r.maxInFlight = DefaultMaxInFlight
	}
	if o.MaxRetries != nil {
		r.maxRetries = *o.MaxRetries
	}
	r.maxReplacements = o.Size * DefaultMaxRetries
	if o.MaxReplacements != nil {
		r.maxReplacements = *o.MaxReplacements
	}
	return r, nil
}

// Pool is a set of actors of one class, state *S, running one method, In → Out. It is safe
// for concurrent use. Make one with New and Close it when done.
type Pool[S, In, Out any] struct {
	method   *fray.Method[S, In, Out]
	create   func(ctx context.Context) (fray.ActorHandle[S], error)
	o        resolved
	identity string

	base   context.Context // carries the job context; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the pool started

	mu           sync.Mutex
	members      []*member[S]
	cursor       int // round-robin start for ties
	replacements int // replacements started so far
	retried      int // attempts run again
	creating     int // replacements being created
	lastDeath    error
	closed       bool
	changed      chan struct{} // closed and replaced whenever a slot frees or the members change
	pending      []*call[Out]  // Submit's items, oldest first
	submitted    int
}

// member is one actor of the pool.
type member[S any] struct {
	h        fray.ActorHandle[S]
	inflight int
	dead     bool
}

// call is one item on its way through the pool.
type call[Out any] struct {
	index  int
	done   chan struct{}
	val    Out
	err    error
	onDone func(*call[Out]) // optional, run once when done
}

// New creates a pool of opts.Size actors of class, each built from arg, running method.
// The actors are created as fray creates actors, asynchronously: a failing constructor
// shows as the death of that actor at its first call (and counts against
// Options.MaxReplacements). ctx must carry the job context; the pool keeps its values (not
// its cancellation) for the calls it makes.
func New[S, A, In, Out any](ctx context.Context, class *fray.Actor[S, A], arg A, method *fray.Method[S, In, Out], opts Options) (*Pool[S, In, Out], error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	if _, err := fray.JobContextFrom(ctx); err != nil {
		return nil, err
	}
	b, err := fray.Marshal(arg)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte(method.Name()+"\x00"), b...))
	p := &Pool[S, In, Out]{
		method: method, o: o, identity: method.Name() + "@" + hex.EncodeToString(sum[:12]),
		create: func(ctx context.Context) (fray.ActorHandle[S], error) {
			return class.Create(ctx, arg, o.actor)
		},
		changed: make(chan struct{}),
	}
	p.base, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for range o.size {
		h, err := p.create(p.base)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.members = append(p.members, &member[S]{h: h})
	}
	return p, nil
}

// Method returns the registered name of the pool's method.
func (p *Pool[S, In, Out]) Method() string { return p.method.Name() }

// Identity names what the pool computes: the method and a hash of the constructor
// argument. processing/shards records it in its success markers.
func (p *Pool[S, In, Out]) Identity() string { return p.identity }

// Handles returns the handles of the live actors (for inspection and fault tests).
func (p *Pool[S, In, Out]) Handles() []fray.ActorHandle[S] {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []fray.ActorHandle[S]
	for _, m := range p.members {
		if !m.dead {
			out = append(out, m.h)
		}
	}
	return out
}

// Stats is a snapshot of a pool.
type Stats struct {
	Live         int // actors alive (as far as the pool knows)
	InFlight     int // calls submitted and not finished
	Replacements int // actors created to replace dead ones
	Retried      int // item attempts run again after an actor died under them
}

// Stats returns a snapshot of the pool.
func (p *Pool[S, In, Out]) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{Replacements: p.replacements, Retried: p.retried}
	for _, m := range p.members {
		if !m.dead {
			s.Live++
		}
		s.InFlight += m.inflight
	}
	return s
}

// Size is the number of actors the pool keeps (Options.Size).
func (p *Pool[S, In, Out]) Size() int { return p.o.size }

// Capacity is how many calls the pool runs at once when every actor is alive: Size ×
// MaxInFlight.
func (p *Pool[S, In, Out]) Capacity() int { return p.o.size * p.o.maxInFlight }

// Close cancels the items in flight (they fail with ErrClosed), waits for the pool's
// goroutines to end and kills the actors. It is safe to call more than once.
func (p *Pool[S, In, Out]) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.broadcastLocked()
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	members := p.members
	p.members = nil
	p.mu.Unlock()
	kctx, cancel := context.WithTimeout(context.WithoutCancel(p.base), cancelGrace)
	defer cancel()
	var errs []error
	for _, m := range members {
		if err := m.h.Kill(kctx); err != nil && !errors.Is(err, fray.ErrActorDied) && !errors.Is(err, fray.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (p *Pool[S, In, Out]) broadcastLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// pick chooses the actor for the next call: among live members with fewer than max calls
// in flight, the one with the fewest, ties broken in turn from cursor. It returns the
// member's index and the next cursor, or -1.
func pick(inflight []int, dead []bool, max, cursor int) (int, int) {
	best := -1
	n := len(inflight)
	for k := range n {
		i := (cursor + k) % n
		if dead[i] || inflight[i] >= max {
			continue
		}
		if best < 0 || inflight[i] < inflight[best] {
			best = i
		}
	}
	if best < 0 {
		return -1, cursor
	}
	return best, (best + 1) % n
}

// acquire waits for room on a live actor and takes it. It fails when ctx ends, the pool
// closes, or no actor is left and none may be created.
func (p *Pool[S, In, Out]) acquire(ctx context.Context) (*member[S], error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		inflight := make([]int, len(p.members))
		dead := make([]bool, len(p.members))
		live := 0
		for i, m := range p.members {
			inflight[i], dead[i] = m.inflight, m.dead
			if !m.dead {
				live++
			}
		}
		i, next := pick(inflight, dead, p.o.maxInFlight, p.cursor)
		if i >= 0 {
			m := p.members[i]
			m.inflight++
			p.cursor = next
			p.mu.Unlock()
			return m, nil
		}
		if live == 0 && p.creating == 0 {
			err := &NoActorsError{Method: p.method.Name(), Replacements: p.replacements, Last: p.lastDeath}
			p.mu.Unlock()
			return nil, err
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// release gives back m's slot after a call that ended with err. When err says the actor
// died for good, m is dropped and a replacement is started if one may be.
func (p *Pool[S, In, Out]) release(m *member[S], err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m.inflight--
	if died(err) && !m.dead {
		m.dead = true
		p.lastDeath = err
		if !p.closed && p.replacements < p.o.maxReplacements {
			p.replacements++
			p.creating++
			p.wg.Add(1)
			go p.replace(m.h)
		}
	}
	p.members = removeDead(p.members)
	p.broadcastLocked()
}

// removeDead drops dead members that have no call in flight.
func removeDead[S any](ms []*member[S]) []*member[S] {
	out := ms[:0]
	for _, m := range ms {
		if !m.dead || m.inflight > 0 {
			out = append(out, m)
		}
	}
	clear(ms[len(out):])
	return out
}

// replace kills the dead actor (in case it only looked dead) and creates another.
func (p *Pool[S, In, Out]) replace(old fray.ActorHandle[S]) {
	defer p.wg.Done()
	kctx, cancel := context.WithTimeout(p.base, cancelGrace)
	_ = old.Kill(kctx)
	cancel()
	h, err := p.create(p.base)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.creating--
	if err == nil {
		p.members = append(p.members, &member[S]{h: h}) // Close, waiting for this goroutine, kills it
	} else {
		p.lastDeath = err
	}
	p.broadcastLocked()
}

// died reports whether err says the actor is dead for good (not restarting).
func died(err error) bool {
	var ad *fray.ActorDiedError
	if errors.As(err, &ad) {
		return !ad.Restarting
	}
	return errors.Is(err, fray.ErrActorDied)
}

// retriable reports whether an item that failed with err may run again on another actor.
func retriable(err error) bool { return errors.Is(err, fray.ErrActorDied) }

// start takes room on an actor for in (waiting for it under ctx) and runs the item in a
// goroutine of the pool; the returned call is done when the item has its result. The
// item's calls run under ctx (and end with the pool), or under runCtx when it is not nil.
// onDone, if not nil, runs when the item is done.
func (p *Pool[S, In, Out]) start(ctx, runCtx context.Context, index int, in In, onDone func(*call[Out])) (*call[Out], error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	p.wg.Add(1)
	p.mu.Unlock()
	m, err := p.acquire(ctx)
	if err != nil {
		p.wg.Done()
		return nil, err
	}
	c := &call[Out]{index: index, done: make(chan struct{}), onDone: onDone}
	if runCtx == nil {
		runCtx = ctx
	}
	// The call is submitted here, not in the item's goroutine, so an actor receives its
	// items in the order they were given room on it.
	ref, err := p.method.Remote(runCtx, m.h, in)
	go p.run(runCtx, c, in, m, ref, err)
	return c, nil
}

// run is an item's goroutine: it waits for the call submitted on m (ref, or the
// submission's error), and after an actor death retries on another actor.
func (p *Pool[S, In, Out]) run(ctx context.Context, c *call[Out], in In, m *member[S], ref fray.Ref[Out], subErr error) {
	defer p.wg.Done()
	cctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(p.base, cancel)
	defer func() {
		stop()
		cancel()
		if c.err != nil && ctx.Err() == nil && p.base.Err() != nil {
			c.err = ErrClosed
		}
		close(c.done)
		if c.onDone != nil {
			c.onDone(c)
		}
	}()
	for attempt := 1; ; attempt++ {
		var (
			v   Out
			err = subErr
		)
		if err == nil {
			v, err = p.wait(cctx, ref)
		}
		p.release(m, err)
		if err == nil {
			c.val = v
			return
		}
		if !retriable(err) || cctx.Err() != nil {
			c.err = err
			return
		}
		if attempt > p.o.maxRetries {
			c.err = &RetriesExhaustedError{Method: p.method.Name(), Attempts: attempt, Last: err}
			return
		}
		p.mu.Lock()
		p.retried++
		p.mu.Unlock()
		if m, err = p.acquire(cctx); err != nil {
			c.err = err
			return
		}
		ref, subErr = p.method.Remote(cctx, m.h, in)
	}
}

// wait waits for the result of a call. When ctx ends first, the call is cancelled (best
// effort: a running actor call may not stop).
func (p *Pool[S, In, Out]) wait(ctx context.Context, ref fray.Ref[Out]) (Out, error) {
	v, err := ref.Get(ctx)
	if err != nil && ctx.Err() != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelGrace)
		_ = fray.Cancel(cctx, ref, false)
		cancel()
	}
	return v, err
}
