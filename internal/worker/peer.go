package worker

import (
	"context"
	"sync"

	"github.com/fray-go/fray/internal/wire"
)

// reply is what a pending request receives: the answering frame, or why none will come.
type reply struct {
	f   wire.Frame
	err error
}

// peer is the request side of one end of a connection: it numbers outgoing requests and
// routes answers back to their callers. Both the child loop and the parent's Process use it.
type peer struct {
	w *wire.Writer

	mu      sync.Mutex
	next    uint64
	pending map[uint64]chan reply
	dead    error // once set, no new requests; pending ones got it
}

func newPeer(w *wire.Writer) *peer {
	return &peer{w: w, pending: map[uint64]chan reply{}}
}

// start sends a request and returns its id and the channel its answer arrives on.
func (p *peer) start(t wire.Type, body any) (uint64, chan reply, error) {
	return p.startWith(t, body, nil)
}

// startWith is start, calling before(id) before the request is written: the other side
// may act on it (send nested requests naming it) before the write returns.
func (p *peer) startWith(t wire.Type, body any, before func(id uint64)) (uint64, chan reply, error) {
	b, err := wire.EncodeBody(body)
	if err != nil {
		return 0, nil, err
	}
	ch := make(chan reply, 1)
	p.mu.Lock()
	if p.dead != nil {
		err := p.dead
		p.mu.Unlock()
		return 0, nil, err
	}
	p.next++
	id := p.next
	p.pending[id] = ch
	p.mu.Unlock()
	if before != nil {
		before(id)
	}
	if err := p.w.WriteRaw(t, id, b); err != nil {
		p.forget(id)
		return 0, nil, err
	}
	return id, ch, nil
}

// forget drops a pending request whose answer is no longer wanted.
func (p *peer) forget(id uint64) {
	p.mu.Lock()
	delete(p.pending, id)
	p.mu.Unlock()
}

// deliver hands an answer to its pending request; answers nobody waits for are dropped.
func (p *peer) deliver(f wire.Frame) {
	p.mu.Lock()
	ch, ok := p.pending[f.ID]
	delete(p.pending, f.ID)
	p.mu.Unlock()
	if ok {
		ch <- reply{f: f}
	}
}

// fail ends the connection: every pending request and every later one gets err.
func (p *peer) fail(err error) {
	p.mu.Lock()
	if p.dead == nil {
		p.dead = err
	}
	pend := p.pending
	p.pending = map[uint64]chan reply{}
	p.mu.Unlock()
	for _, ch := range pend {
		ch <- reply{err: err}
	}
}

// pendingCount reports how many requests await answers.
func (p *peer) pendingCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending)
}

// request sends a request and waits for its answer. If ctx ends first it tells the other
// side with Cancel, stops waiting and returns ctx's error.
func (p *peer) request(ctx context.Context, t wire.Type, body any) (wire.Result, error) {
	id, ch, err := p.start(t, body)
	if err != nil {
		return wire.Result{}, err
	}
	select {
	case r := <-ch:
		return decodeResult(r)
	case <-ctx.Done():
		p.forget(id)
		_ = p.w.Write(wire.TypeCancel, id, nil)
		return wire.Result{}, ctx.Err()
	}
}

// decodeResult turns an answer into a Result; a Result carrying an error is returned as
// the decoded error by callers via resultErr.
func decodeResult(r reply) (wire.Result, error) {
	if r.err != nil {
		return wire.Result{}, r.err
	}
	var res wire.Result
	if err := r.f.Decode(&res); err != nil {
		return wire.Result{}, err
	}
	if r.f.Type != wire.TypeResult {
		return wire.Result{}, &protocolError{msg: "answer of type " + r.f.Type.String() + " where a Result was expected"}
	}
	return res, nil
}

type protocolError struct{ msg string }

func (e *protocolError) Error() string { return "fray worker protocol: " + e.msg }
