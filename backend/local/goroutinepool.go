package local

import (
	"runtime"
	"sync"
)

// The goroutine pool (internal/procpool, by contrast, pools worker processes). Cluster
// workers and actor drainers run on pooled goroutines that park when they run out of work
// instead of exiting: a fresh goroutine would have to grow its stack again on every task
// (stack copying was a third of a task round trip), and waking a parked goroutine costs no
// more than starting one. Idle goroutines beyond maxIdle exit, and closing the cluster ends
// them all.

// work is what a pooled goroutine runs: a cluster task (and then the tasks that follow it),
// or the drain loop of an actor's generation (t: the call it ran last, when another
// goroutine takes over that loop).
type work struct {
	t   *task
	a   *actor
	gen uint64
}

type pooled struct{ ch chan work }

// goroutinePool holds the parked goroutines of a Cluster.
type goroutinePool struct {
	mu      sync.Mutex
	idle    []*pooled
	closed  bool
	wg      sync.WaitGroup
	maxIdle int
}

func newGoroutinePool() *goroutinePool {
	return &goroutinePool{maxIdle: max(16, 4*runtime.GOMAXPROCS(0))}
}

// spawn hands w to an idle goroutine, or starts one.
func (c *Cluster) spawn(w work) {
	p := c.goroutines
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		g := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		g.ch <- w
		return
	}
	if p.closed {
		// Cannot happen: the pool closes after every task and actor is gone. Run the work
		// anyway rather than lose it.
		p.mu.Unlock()
		go c.runWork(w)
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	go c.loop(w)
}

func (c *Cluster) runWork(w work) {
	if w.a != nil {
		w.a.drain(w.gen, w.t)
	} else {
		c.worker(w.t)
	}
}

func (c *Cluster) loop(w work) {
	p := c.goroutines
	defer p.wg.Done()
	var self *pooled
	for {
		c.runWork(w)
		p.mu.Lock()
		if p.closed || len(p.idle) >= p.maxIdle {
			p.mu.Unlock()
			return
		}
		if self == nil {
			self = &pooled{ch: make(chan work, 1)}
		}
		p.idle = append(p.idle, self)
		p.mu.Unlock()
		var ok bool
		if w, ok = <-self.ch; !ok {
			return
		}
	}
}

// close ends the idle goroutines and waits for every pooled goroutine to return. Nothing may
// spawn work after it starts.
func (p *goroutinePool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, g := range idle {
		close(g.ch)
	}
	p.wg.Wait()
}
