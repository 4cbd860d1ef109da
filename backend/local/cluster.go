package local

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/procpool"
	"github.com/fray-go/fray/internal/worker"
)

// ClusterOptions configure a Cluster.
type ClusterOptions struct {
	// Resources of the node, merged over the defaults: CPU = runtime.NumCPU(), memory = the
	// machine's physical memory in bytes, GPU = 0. Custom resources such as
	// {"head_node": 1} are added here.
	Resources fray.Resources
	// Workers configure the worker processes that run tasks and actors needing a process
	// of their own (see "What runs in a process" in the package doc).
	Workers WorkerOptions
}

// Cluster is one in-process node: its resource ledger, its scheduler, its actors and its
// named-actor registry. Several job contexts may attach to it (Options.Cluster); detached
// actors belong to the cluster and live until it closes or they are killed.
type Cluster struct {
	mu      sync.Mutex
	ledger  *ledger
	classes map[string]*class // scheduling classes by shapeKey
	ready   []*class          // classes with queued tasks, dispatched round-robin
	rr      int
	workers int // worker goroutines alive
	idle    sync.Cond
	closed  bool
	jobs    map[*JobContext]struct{}
	names   map[actorKey]*actor // live named actors

	defaultTask *class   // {"CPU": 1}, the class of tasks without resources
	actors      sync.Map // backend.ActorID → *actor, for lookups without the lock
	actorSeq    atomic.Uint64
	tag         string // random prefix of actor ids
	goroutines  *goroutinePool
	gpus        *procpool.GPUSet // concrete GPU ids for the ledger's GPU amounts
	workerOpts  WorkerOptions
	procs       procs       // worker processes of detached actors
	pgs         pgTable     // placement groups (placement.go); guarded by mu
	hasEnv      atomic.Bool // some task or actor has a runtime env its nested tasks inherit
	closing     atomic.Bool
	closeOnce   sync.Once
}

type actorKey struct{ namespace, name string }

// class is a scheduling class: one canonical resource shape and its FIFO queue of tasks
// waiting for resources.
type class struct {
	shape      *shape
	head, tail *task
	n          int
	inReady    bool
	pg         *placementGroup // non-nil: work in a bundle of this group (placement.go)
	bundle     int             // with pg: the bundle index, or fray.AnyBundle
}

// NewCluster starts an empty node with the given resources. Close it when done; closing kills
// its actors (detached ones included) and closes the job contexts still attached.
func NewCluster(opts ClusterOptions) (*Cluster, error) {
	worker.CheckDriver("local.NewCluster") // a worker whose main skipped fray.Init exits here
	backend.FreezeRegistry()
	if err := opts.Resources.Validate(); err != nil {
		return nil, fmt.Errorf("local: cluster resources: %w", err)
	}
	c := &Cluster{
		ledger:     newLedger(defaultResources(opts.Resources)),
		classes:    map[string]*class{},
		jobs:       map[*JobContext]struct{}{},
		names:      map[actorKey]*actor{},
		tag:        randomHex(4),
		goroutines: newGoroutinePool(),
	}
	c.workerOpts = opts.Workers
	c.gpus = newGPUSet(c.ledger.snapshot(c.ledger.total))
	c.idle.L = &c.mu
	c.defaultTask = c.classFor(nil, true)
	return c, nil
}

// Resources returns the node's total resources.
func (c *Cluster) Resources() fray.Resources {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ledger.snapshot(c.ledger.total)
}

// Available returns the resources not held by running tasks and live actors right now.
func (c *Cluster) Available() fray.Resources {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ledger.snapshot(c.ledger.avail)
}

// classFor returns the scheduling class of a request. With task set, a request without a CPU
// amount gets Ray's default of 1 CPU (fray.TaskResources).
func (c *Cluster) classFor(r fray.Resources, task bool) *class {
	if task && len(r) == 0 && c.defaultTask != nil {
		return c.defaultTask
	}
	var buf [64]byte
	key := shapeKey(buf[:0], r, task)
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.classes[string(key)]; ok {
		return cl
	}
	req := r
	if task {
		req = fray.TaskResources(r)
	}
	cl := &class{shape: c.ledger.shapeOf(req)}
	c.classes[string(key)] = cl
	return cl
}

// submit queues t in its class, or starts it at once when its class has no queue and the
// node has room.
func (c *Cluster) submit(t *task) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		t.job.complete(&t.obj, backend.Payload{}, errClosed)
		return
	}
	if err := groupRemovedLocked(t); err != nil {
		c.mu.Unlock()
		t.job.complete(&t.obj, backend.Payload{}, err)
		return
	}
	start := c.enqueueLocked(t)
	if start {
		c.workers++
	}
	c.mu.Unlock()
	if start {
		c.spawn(work{t: t})
	}
}

func (c *Cluster) enqueueLocked(t *task) (start bool) {
	cl := t.class
	if cl.n == 0 && c.admitLocked(t, cl) {
		return true
	}
	t.next = nil
	if cl.tail == nil {
		cl.head = t
	} else {
		cl.tail.next = t
	}
	cl.tail = t
	cl.n++
	if !cl.inReady {
		cl.inReady = true
		c.ready = append(c.ready, cl)
	}
	return false
}

// pickLocked takes the next task that fits, visiting the classes with queued tasks
// round-robin, and acquires its resources. Cancelled tasks met on the way are dropped.
func (c *Cluster) pickLocked() *task {
	for len(c.ready) > 0 {
		progress := false
		for n := len(c.ready); n > 0 && len(c.ready) > 0; n-- {
			if c.rr >= len(c.ready) {
				c.rr = 0
			}
			cl := c.ready[c.rr]
			for cl.head != nil && cl.head.state.Load() != stQueued {
				c.popLocked(cl) // cancelled while queued
			}
			if cl.head == nil {
				c.removeReadyLocked(c.rr)
				progress = true
				continue
			}
			if t := cl.head; c.admitLocked(t, cl) {
				c.popLocked(cl)
				if cl.head == nil {
					c.removeReadyLocked(c.rr)
				} else {
					c.rr++
				}
				return t
			}
			c.rr++
		}
		if !progress {
			return nil
		}
	}
	return nil
}

func (c *Cluster) popLocked(cl *class) *task {
	t := cl.head
	cl.head = t.next
	if cl.head == nil {
		cl.tail = nil
	}
	t.next = nil
	cl.n--
	return t
}

func (c *Cluster) removeReadyLocked(i int) {
	cl := c.ready[i]
	cl.inReady = false
	last := len(c.ready) - 1
	c.ready[i] = c.ready[last]
	c.ready[last] = nil
	c.ready = c.ready[:last]
}

// worker runs t, then keeps taking tasks that fit until none does.
func (c *Cluster) worker(t *task) {
	var cur *task // running now
	defer func() {
		if cur == nil {
			return
		}
		// cur ended this goroutine with runtime.Goexit (see backend.Function.Invoke): its
		// attempt fails here, and another goroutine takes over from this worker.
		next := c.finish(cur, cur.goexited())
		cur.completeRun()
		if next != nil {
			c.spawn(work{t: next})
		}
	}()
	for t != nil {
		cur = t
		retry := t.run()
		cur = nil
		done := t
		t = c.finish(t, retry)
		done.completeRun()
	}
}

// finish returns t's resources, requeues it for a retry, and picks the next task for the
// calling worker; further tasks that now fit get workers of their own.
func (c *Cluster) finish(t *task, retry bool) *task {
	c.mu.Lock()
	cl := t.class
	if t.keep {
		t.keep = false // an actor keeps its placement resources, or returned them already
	} else {
		c.releaseRunLocked(t, cl.shape, t.heldCPU)
		c.releaseGPUsLocked(t)
	}
	t.heldCPU = 0
	if len(c.pgs.pending) > 0 {
		c.placePendingLocked()
	}
	if retry && !c.closed {
		if c.enqueueLocked(t) {
			c.mu.Unlock()
			return t
		}
	}
	next := c.pickLocked()
	var extra []*task
	if next != nil {
		for x := c.pickLocked(); x != nil; x = c.pickLocked() {
			extra = append(extra, x)
		}
		c.workers += len(extra)
	} else {
		c.workers--
		if c.workers == 0 {
			c.idle.Broadcast()
		}
	}
	c.mu.Unlock()
	for _, x := range extra {
		c.spawn(work{t: x})
	}
	return next
}

// releaseTask returns resources held outside a running task (an actor's placement or held
// resources, taken by its creation task t), GPU ids included.
func (c *Cluster) releaseTask(t *task) {
	c.mu.Lock()
	releaseIn(c.availOf(t), t.class.shape)
	c.releaseGPUsLocked(t)
	if len(c.pgs.pending) > 0 {
		c.placePendingLocked()
	}
	c.dispatchLocked()
}

// dispatchLocked starts workers for every queued task that fits, and unlocks c.mu.
func (c *Cluster) dispatchLocked() {
	var start []*task
	for t := c.pickLocked(); t != nil; t = c.pickLocked() {
		start = append(start, t)
	}
	c.workers += len(start)
	c.mu.Unlock()
	for _, t := range start {
		c.spawn(work{t: t})
	}
}

// lendCPU gives a running task's CPU back to the node while the task blocks in Get, Wait or
// a placement group's Ready, and returns a function that takes it back (possibly
// oversubscribing the node briefly, as Ray does), so that nested tasks cannot deadlock a
// node whose CPUs are all held by parents.
func (c *Cluster) lendCPU(t *task) func() {
	c.mu.Lock()
	t.blocked++
	if t.blocked > 1 || t.heldCPU == 0 || t.state.Load() != stRunning {
		c.mu.Unlock()
		return func() { c.unblock(t, 0) }
	}
	lent := t.heldCPU
	t.heldCPU = 0
	c.availOf(t)[c.ledger.cpu] += lent
	// The lent CPU may be what a pending group waits for: a task waiting in Ready for the
	// group it created itself needs it (groups are placed before queued tasks, as in finish).
	if len(c.pgs.pending) > 0 {
		c.placePendingLocked()
	}
	c.dispatchLocked()
	return func() { c.unblock(t, lent) }
}

func (c *Cluster) unblock(t *task, lent int64) {
	c.mu.Lock()
	t.blocked--
	if lent > 0 && t.lentBack(lent) {
		c.availOf(t)[c.ledger.cpu] -= lent
		t.heldCPU = lent
	}
	c.mu.Unlock()
}

// Close closes the job contexts still attached, kills every actor (detached ones included),
// cancels running tasks and waits for every goroutine the cluster started to return.
// Later calls on its job contexts fail with errors matching fray.ErrClosed.
func (c *Cluster) Close() error {
	c.shutdown(nil)
	return nil
}

func (c *Cluster) shutdown(owner *JobContext) {
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		c.mu.Lock()
		jobs := make([]*JobContext, 0, len(c.jobs))
		for j := range c.jobs {
			if j != owner {
				jobs = append(jobs, j)
			}
		}
		c.mu.Unlock()
		for _, j := range jobs {
			_ = j.Close()
		}
		var all []*actor
		c.actors.Range(func(_, v any) bool {
			all = append(all, v.(*actor))
			return true
		})
		for _, a := range all {
			a.kill(true, "its cluster was closed")
		}
		for _, a := range all {
			a.waitGoroutines()
		}
		c.mu.Lock()
		c.closed = true
		// Every job is closed, so every queued task is cancelled: drop them all.
		for _, cl := range c.ready {
			for cl.head != nil {
				c.popLocked(cl)
			}
			cl.inReady = false
		}
		c.ready = nil
		for c.workers > 0 {
			c.idle.Wait()
		}
		c.mu.Unlock()
		c.procs.close()
		c.goroutines.close()
	})
}

func (c *Cluster) attach(j *JobContext) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.closing.Load() {
		return fmt.Errorf("local: %w: the cluster is closed; create a new one with local.NewCluster", fray.ErrClosed)
	}
	c.jobs[j] = struct{}{}
	return nil
}

// jobByID returns the attached job context with that id, or nil.
func (c *Cluster) jobByID(id string) *JobContext {
	c.mu.Lock()
	defer c.mu.Unlock()
	for j := range c.jobs {
		if j.id == id {
			return j
		}
	}
	return nil
}

// jobList returns the attached job contexts.
func (c *Cluster) jobList() []*JobContext {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*JobContext, 0, len(c.jobs))
	for j := range c.jobs {
		out = append(out, j)
	}
	return out
}

func (c *Cluster) detach(j *JobContext) {
	c.mu.Lock()
	delete(c.jobs, j)
	c.mu.Unlock()
}

var errClosed = fmt.Errorf("local: %w: the job context was closed; create a new one with local.New", fray.ErrClosed)
