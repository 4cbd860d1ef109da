package freshproc

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

// Options configure a job context.
type Options struct {
	// Cluster is the cluster the job runs on; nil makes one with 4 CPUs and 4 GiB of memory.
	Cluster *Cluster
	// Namespace is the default namespace of named actors; "" makes a fresh one.
	Namespace string
}

// JobContext is a freshproc job: a backend.JobContext.
type JobContext struct {
	c          *Cluster
	id, ns     string
	base       context.Context
	stop       context.CancelFunc
	closed     chan struct{}
	closeMu    sync.Once
	wg         sync.WaitGroup
	mu         sync.Mutex
	objs       map[backend.ObjectID]*object
	tasks      map[string]*task // running tasks by task id
	byObj      map[backend.ObjectID]*task
	pinned     bool          // a payload carried this job's id: Release frees nothing
	anyDone    chan struct{} // closed and replaced whenever an object completes
	idPrefix   []byte
	actorCalls map[backend.ObjectID]*call
}

var _ backend.JobContext = (*JobContext)(nil)

// New returns a job context. The program's main must have called worker.Init (or
// fray.Init) first.
func New(o Options) (*JobContext, error) {
	backend.FreezeRegistry()
	if o.Cluster == nil {
		o.Cluster = NewCluster(map[string]float64{fray.CPU: 4, fray.Memory: 4 << 30})
	}
	if o.Namespace == "" {
		o.Namespace = randomID("ns-")
	}
	j := &JobContext{c: o.Cluster, id: randomID("fp"), ns: o.Namespace, closed: make(chan struct{}),
		objs: map[backend.ObjectID]*object{}, tasks: map[string]*task{}, byObj: map[backend.ObjectID]*task{},
		anyDone: make(chan struct{})}
	j.idPrefix = []byte(j.id)
	j.base, j.stop = context.WithCancel(context.Background())
	return j, nil
}

// Cluster returns the cluster the job runs on, for a second job context on it.
func (j *JobContext) Cluster() *Cluster { return j.c }

// Namespace returns the job's default namespace.
func (j *JobContext) Namespace() string { return j.ns }

// JobID implements backend.JobContext.
func (j *JobContext) JobID() string { return j.id }

// Backend implements backend.JobContext.
func (j *JobContext) Backend() string { return "freshproc" }

// PassesValuesDirectly implements backend.JobContext: values always cross processes here.
func (j *JobContext) PassesValuesDirectly() bool { return false }

func (j *JobContext) isClosed() bool {
	select {
	case <-j.closed:
		return true
	default:
		return false
	}
}

// object is one object of the job: pending until set.
type object struct {
	once sync.Once
	done chan struct{}
	data []byte
	err  error
}

// newObject registers a pending object.
func (j *JobContext) newObject() (backend.ObjectID, *object) {
	id := backend.ObjectID(fmt.Sprintf("%s-o%d", j.id, j.c.next()))
	o := &object{done: make(chan struct{})}
	j.mu.Lock()
	j.objs[id] = o
	j.mu.Unlock()
	return id, o
}

// set completes o once (the first answer wins: a cancellation over the task's own result).
func (j *JobContext) set(o *object, data []byte, err error) {
	o.once.Do(func() {
		j.pin(data)
		o.data, o.err = data, err
		close(o.done)
		j.mu.Lock()
		close(j.anyDone)
		j.anyDone = make(chan struct{})
		j.mu.Unlock()
	})
}

// pin notes a payload that may carry refs of this job (backend/doc.go, "Refs nested in
// values"): from then on Release keeps every object until Close.
func (j *JobContext) pin(b []byte) {
	if len(b) > 0 && bytes.Contains(b, j.idPrefix) {
		j.mu.Lock()
		j.pinned = true
		j.mu.Unlock()
	}
}

func (j *JobContext) lookup(id backend.ObjectID) (*object, error) {
	j.mu.Lock()
	o, ok := j.objs[id]
	j.mu.Unlock()
	if !ok {
		return nil, &fray.ObjectLostError{ObjectID: string(id), Reason: "this freshproc job context holds no such object: it was released, or the id comes from another job context"}
	}
	return o, nil
}

// wait blocks until o is done, ctx is done or the job closes.
func (j *JobContext) wait(ctx context.Context, o *object) error {
	select {
	case <-o.done:
		return nil
	default:
	}
	select {
	case <-o.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-j.closed:
		return errClosed
	}
}

// Put implements backend.JobContext.
func (j *JobContext) Put(ctx context.Context, value backend.Payload) (backend.ObjectID, error) {
	if j.isClosed() {
		return "", errClosed
	}
	b, err := value.Encoded(fray.Marshal)
	if err != nil {
		return "", err
	}
	id, o := j.newObject()
	j.set(o, bytes.Clone(b), nil)
	return id, nil
}

// Get implements backend.JobContext. Called from inside a task, it lends the task's CPU
// while it blocks.
func (j *JobContext) Get(ctx context.Context, ids []backend.ObjectID) ([]backend.Object, error) {
	if j.isClosed() {
		return nil, errClosed
	}
	objs := make([]*object, len(ids))
	for i, id := range ids {
		o, err := j.lookup(id)
		if err != nil {
			return nil, err
		}
		objs[i] = o
	}
	for _, o := range objs {
		select {
		case <-o.done:
			continue
		default:
		}
		defer j.lend(ctx)() // something is pending: lend the task's CPU while blocked
		break
	}
	out := make([]backend.Object, len(ids))
	for i, o := range objs {
		if err := j.wait(ctx, o); err != nil {
			return nil, err
		}
		out[i] = backend.Object{Payload: backend.Payload{Data: o.data}, Err: o.err}
	}
	return out, nil
}

// Wait implements backend.JobContext.
func (j *JobContext) Wait(ctx context.Context, ids []backend.ObjectID, numReturns int, timeout time.Duration) ([]bool, error) {
	if j.isClosed() {
		return nil, errClosed
	}
	objs := make([]*object, len(ids))
	for i, id := range ids {
		o, err := j.lookup(id)
		if err != nil {
			return nil, err
		}
		objs[i] = o
	}
	var timer <-chan time.Time
	if timeout != backend.Forever {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	lent := false
	var giveBack func()
	defer func() {
		if lent {
			giveBack()
		}
	}()
	for {
		j.mu.Lock()
		changed := j.anyDone
		j.mu.Unlock()
		ready, n := make([]bool, len(objs)), 0
		for i, o := range objs {
			select {
			case <-o.done:
				ready[i] = true
				n++
			default:
			}
		}
		if n >= numReturns {
			return ready, nil
		}
		if !lent {
			lent, giveBack = true, j.lend(ctx)
		}
		select {
		case <-changed:
		case <-timer:
			return ready, nil
		case <-ctx.Done():
			return ready, nil
		case <-j.closed:
			return nil, errClosed
		}
	}
}

// Release implements backend.JobContext.
func (j *JobContext) Release(ids []backend.ObjectID) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, id := range ids {
		delete(j.byObj, id)
		delete(j.actorCalls, id)
		if !j.pinned {
			delete(j.objs, id)
		}
	}
}

// Close implements backend.JobContext: the job's actors that are not detached die, running
// tasks are killed with their processes, and pending Gets fail with fray.ErrClosed.
func (j *JobContext) Close() error {
	j.closeMu.Do(func() {
		close(j.closed)
		j.stop()
		j.c.mu.Lock()
		var mine []*actor
		for _, a := range j.c.actors {
			if a.j == j && !a.opts.Detached {
				mine = append(mine, a)
			}
		}
		j.c.mu.Unlock()
		for _, a := range mine {
			a.kill(true, "its job context was closed")
		}
		j.mu.Lock()
		for _, t := range j.tasks {
			t.abort()
		}
		j.mu.Unlock()
		j.wg.Wait()
	})
	return nil
}
