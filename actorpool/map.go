package actorpool

import (
	"context"
	"iter"
)

// Result is the outcome of one item of MapUnordered or MapSeq.
type Result[Out any] struct {
	Index int // position of the item in the input
	Value Out
	Err   error
}

// Call runs one item and returns its result (waiting for room on an actor first).
func (p *Pool[S, In, Out]) Call(ctx context.Context, in In) (Out, error) {
	c, err := p.start(ctx, nil, 0, in, nil)
	if err != nil {
		var zero Out
		return zero, err
	}
	<-c.done
	return c.val, c.err
}

// Map runs every input on the pool and returns the results in input order. On the first
// failure (in input order) it cancels the items still in flight and returns an *ItemError
// naming the input. It returns once no item of it runs any more.
func (p *Pool[S, In, Out]) Map(ctx context.Context, ins []In) ([]Out, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	calls := make([]*call[Out], 0, len(ins))
	fail := func(i int, err error) ([]Out, error) {
		cancel()
		for _, c := range calls {
			<-c.done
		}
		return nil, &ItemError{Index: i, Err: err}
	}
	for i, in := range ins {
		// A failure already known ends the map before more items are fed.
		if len(calls) > 0 {
			select {
			case <-calls[0].done:
				if calls[0].err != nil {
					return fail(0, calls[0].err)
				}
			default:
			}
		}
		c, err := p.start(ctx, nil, i, in, nil)
		if err != nil {
			return fail(i, err)
		}
		calls = append(calls, c)
	}
	out := make([]Out, len(ins))
	for i, c := range calls {
		<-c.done
		if c.err != nil {
			return fail(i, c.err)
		}
		out[i] = c.val
	}
	return out, nil
}

// MapUnordered runs every input on the pool and yields the results as they finish, each
// with its input's Index. Every input yields exactly one Result unless the range stops
// early; then the items still in flight are cancelled, and the range returns once the pool
// has let go of them. An item that cannot be started (ctx done, pool closed, no actors
// left) yields its error, as do the items after it.
func (p *Pool[S, In, Out]) MapUnordered(ctx context.Context, ins []In) iter.Seq[Result[Out]] {
	return func(yield func(Result[Out]) bool) {
		ctx, cancel := context.WithCancel(ctx)
		results := make(chan Result[Out], len(ins)) // never blocks a sender
		fed := make(chan []*call[Out], 1)
		go func() {
			var calls []*call[Out]
			defer func() { fed <- calls }()
			for i, in := range ins {
				c, err := p.start(ctx, nil, i, in, func(c *call[Out]) {
					results <- Result[Out]{Index: c.index, Value: c.val, Err: c.err}
				})
				if err != nil {
					for j := i; j < len(ins); j++ {
						results <- Result[Out]{Index: j, Err: err}
					}
					return
				}
				calls = append(calls, c)
			}
		}()
		defer func() {
			cancel()
			for _, c := range <-fed {
				<-c.done
			}
		}()
		for range ins {
			if !yield(<-results) {
				return
			}
		}
	}
}

// MapSeq runs the inputs of seq on the pool and yields the results in input order. It
// reads seq lazily, in the caller's goroutine: no more than 2 × Capacity items are read
// and not yet yielded, so memory stays bounded however long seq is. After an item that
// cannot be started (ctx done, pool closed, no actors left) it yields that error and
// stops reading. Stopping the range early cancels the items in flight; the range returns
// once the pool has let go of them.
func (p *Pool[S, In, Out]) MapSeq(ctx context.Context, seq iter.Seq[In]) iter.Seq[Result[Out]] {
	return func(yield func(Result[Out]) bool) {
		ctx, cancel := context.WithCancel(ctx)
		var window []*call[Out]
		defer func() {
			cancel()
			for _, c := range window {
				<-c.done
			}
		}()
		limit := 2 * p.Capacity()
		// emit yields the head of the window, waiting for it when wait is set.
		emit := func(wait bool) (more, ok bool) {
			c := window[0]
			if !wait {
				select {
				case <-c.done:
				default:
					return false, true
				}
			}
			<-c.done
			window = window[1:]
			return true, yield(Result[Out]{Index: c.index, Value: c.val, Err: c.err})
		}
		i := 0
		for in := range seq {
			c, err := p.start(ctx, nil, i, in, nil)
			if err != nil {
				for len(window) > 0 {
					if _, ok := emit(true); !ok {
						return
					}
				}
				yield(Result[Out]{Index: i, Err: err})
				return
			}
			window = append(window, c)
			i++
			for len(window) > 0 {
				more, ok := emit(len(window) >= limit)
				if !ok {
					return
				}
				if !more {
					break
				}
			}
		}
		for len(window) > 0 {
			if _, ok := emit(true); !ok {
				return
			}
		}
	}
}

// Submit sends one item to the pool, waiting (under ctx) for room on an actor, and returns
// its submission index (0, 1, ...). The item then runs under the pool's own context, not
// ctx; take its result with GetNext or GetNextUnordered.
func (p *Pool[S, In, Out]) Submit(ctx context.Context, in In) (int, error) {
	c, err := p.start(ctx, context.WithoutCancel(ctx), 0, in, func(*call[Out]) {
		p.mu.Lock()
		p.broadcastLocked()
		p.mu.Unlock()
	})
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c.index = p.submitted
	p.submitted++
	p.pending = append(p.pending, c)
	return c.index, nil
}

// HasNext reports whether a submitted item's result is still to be taken.
func (p *Pool[S, In, Out]) HasNext() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending) > 0
}

// GetNext waits for the oldest submitted item whose result was not taken yet and returns
// its result (Ray's get_next). When ctx ends first, the item stays next.
func (p *Pool[S, In, Out]) GetNext(ctx context.Context) (Out, error) {
	var zero Out
	p.mu.Lock()
	if len(p.pending) == 0 {
		p.mu.Unlock()
		return zero, ErrNothingPending
	}
	c := p.pending[0]
	p.mu.Unlock()
	select {
	case <-c.done:
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	p.mu.Lock()
	if len(p.pending) > 0 && p.pending[0] == c {
		p.pending = p.pending[1:]
	} else {
		p.removePendingLocked(c)
	}
	p.mu.Unlock()
	return c.val, c.err
}

// GetNextUnordered waits for any submitted item whose result was not taken yet and returns
// its submission index and result (Ray's get_next_unordered).
func (p *Pool[S, In, Out]) GetNextUnordered(ctx context.Context) (int, Out, error) {
	var zero Out
	for {
		p.mu.Lock()
		if len(p.pending) == 0 {
			p.mu.Unlock()
			return 0, zero, ErrNothingPending
		}
		for _, c := range p.pending {
			select {
			case <-c.done:
				p.removePendingLocked(c)
				p.mu.Unlock()
				return c.index, c.val, c.err
			default:
			}
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, zero, ctx.Err()
		}
	}
}

func (p *Pool[S, In, Out]) removePendingLocked(c *call[Out]) {
	for i, x := range p.pending {
		if x == c {
			p.pending = append(p.pending[:i], p.pending[i+1:]...)
			return
		}
	}
}
