package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/worker"
)

// Options configure a job context.
type Options struct {
	// Resources of the node, merged over the defaults (CPU = runtime.NumCPU(), memory = the
	// machine's physical memory in bytes, GPU = 0), e.g. {"CPU": 4, "head_node": 1}. Only for
	// a private cluster: with Cluster set, resources belong to that cluster.
	Resources fray.Resources
	// Namespace for named actors; "default" when empty.
	Namespace string
	// JobID identifies the job in refs, handles and task info; random when empty.
	JobID string
	// DirectValues passes Go values and errors between callers and tasks as they are, without
	// the codec. Faster, but a value or error type that would not survive a trip to a Ray
	// worker then goes unnoticed. The default (false) round-trips every argument, result and
	// Put value through fray.Marshal/Unmarshal and every task error through
	// fray.EncodeError/DecodeError.
	DirectValues bool
	// Cluster to attach to, shared with other job contexts (see NewCluster). Nil makes a
	// private cluster that closes with this job context.
	Cluster *Cluster
	// Isolation: IsolateNone (default) runs only the tasks and actors whose options need a
	// process in worker processes; IsolateProcess runs all of this job's tasks and actors
	// there (see "What runs in a process" in the package doc).
	Isolation Isolation
	// Workers configure the worker processes of a private cluster (with Cluster set, they
	// belong to that cluster: ClusterOptions.Workers).
	Workers WorkerOptions
}

// JobContext is a job running on an in-process Cluster: it implements backend.JobContext. It is
// safe for concurrent use. Close it when done.
type JobContext struct {
	c      *Cluster
	owns   bool // the cluster is private to this job context
	id     string
	ns     string
	direct bool
	// isolation is Options.Isolation.
	isolation Isolation
	procs     procs           // worker processes of this job's tasks and job-scoped actors
	base      context.Context // carries the job context; tasks' contexts delegate values to it
	prefix    []byte          // object id prefix, unique per job context

	mu      sync.Mutex
	seq     uint64
	objects objTable            // by sequence number (the id's suffix)
	actors  map[*actor]struct{} // live job-scoped actors this job created

	closed    atomic.Bool
	closedCh  chan struct{}
	active    atomic.Int64 // tasks and actor calls of this job now executing
	fetched   atomic.Int64 // objects whose values Get handed out (ObjectsFetched)
	idleSig   chan struct{}
	closeOnce sync.Once
}

var _ backend.JobContext = (*JobContext)(nil)

// New starts a job context: on opts.Cluster, or on a private cluster with opts.Resources. It
// freezes the task registry.
func New(opts Options) (*JobContext, error) {
	worker.CheckDriver("local.New") // a worker whose main skipped fray.Init exits here
	backend.FreezeRegistry()
	c := opts.Cluster
	owns := false
	if c == nil {
		var err error
		c, err = NewCluster(ClusterOptions{Resources: opts.Resources, Workers: opts.Workers})
		if err != nil {
			return nil, err
		}
		owns = true
	} else if len(opts.Resources) > 0 {
		return nil, fmt.Errorf("local: %w: Options.Resources is set together with Options.Cluster; resources belong to the cluster (ClusterOptions.Resources)", fray.ErrInvalidArgument)
	} else if opts.Workers != (WorkerOptions{}) {
		return nil, fmt.Errorf("local: %w: Options.Workers is set together with Options.Cluster; worker processes belong to the cluster (ClusterOptions.Workers)", fray.ErrInvalidArgument)
	}
	if opts.Isolation != IsolateNone && opts.Isolation != IsolateProcess {
		return nil, fmt.Errorf("local: %w: unknown Options.Isolation %d", fray.ErrInvalidArgument, int(opts.Isolation))
	}
	j := &JobContext{
		c: c, owns: owns, id: opts.JobID, ns: opts.Namespace, direct: opts.DirectValues, isolation: opts.Isolation,
		objects:  newObjTable(),
		actors:   map[*actor]struct{}{},
		closedCh: make(chan struct{}),
		idleSig:  make(chan struct{}, 1),
	}
	if j.id == "" {
		j.id = randomHex(8)
	}
	if j.ns == "" {
		j.ns = "default"
	}
	j.prefix = append([]byte(randomHex(3)), '.')
	j.base = fray.WithJobContext(context.Background(), j)
	if err := c.attach(j); err != nil {
		return nil, err
	}
	return j, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("local: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// JobID returns the job's id.
func (j *JobContext) JobID() string { return j.id }

// Backend returns "local".
func (j *JobContext) Backend() string { return "local" }

// Namespace returns the job's namespace for named actors.
func (j *JobContext) Namespace() string { return j.ns }

// Cluster returns the cluster the job context runs on.
func (j *JobContext) Cluster() *Cluster { return j.c }

// PassesValuesDirectly reports whether Options.DirectValues was set.
func (j *JobContext) PassesValuesDirectly() bool { return j.direct }

// newIDLocked returns a fresh object id, the job's prefix and a hex sequence number, and
// stores o under it; j.mu is held.
func (j *JobContext) newIDLocked(o *object) backend.ObjectID {
	j.seq++
	var buf [40]byte
	b := append(buf[:0], j.prefix...)
	b = strconv.AppendUint(b, j.seq, 16)
	o.id = backend.ObjectID(b)
	j.objects.put(j.seq, o)
	return o.id
}

// objectLocked finds an object by id; j.mu is held.
func (j *JobContext) objectLocked(id backend.ObjectID) (*object, bool) {
	seq, ok := j.parseID(id)
	if !ok {
		return nil, false
	}
	return j.objects.get(seq)
}

func (j *JobContext) forgetLocked(id backend.ObjectID) {
	if seq, ok := j.parseID(id); ok {
		j.objects.remove(seq)
	}
}

// parseID returns the sequence number of an id made by this job context.
func (j *JobContext) parseID(id backend.ObjectID) (uint64, bool) {
	n := len(j.prefix)
	if len(id) <= n || len(id) > n+16 || string(id[:n]) != string(j.prefix) {
		return 0, false
	}
	var seq uint64
	for i := n; i < len(id); i++ {
		c := id[i]
		switch {
		case '0' <= c && c <= '9':
			seq = seq<<4 | uint64(c-'0')
		case 'a' <= c && c <= 'f':
			seq = seq<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return seq, true
}

func unknownObject(id backend.ObjectID) error {
	return &fray.ObjectLostError{ObjectID: string(id), Reason: "this job context holds no such object: it was released (every Ref to it was garbage collected), or the id comes from another job context"}
}

// payload makes sure a value is encoded unless values pass directly. The API layer encodes
// already; this covers SPI callers that hand over a Value.
func (j *JobContext) payload(p backend.Payload) (backend.Payload, error) {
	if j.direct || p.Data != nil || p.Value == nil {
		return p, nil
	}
	b, err := fray.Marshal(p.Value)
	if err != nil {
		return backend.Payload{}, err
	}
	return backend.Payload{Data: b}, nil
}

// encodeResult turns what a task returned into its object: in codec mode the result is
// encoded (a failure becomes the task's error) and errors take the trip through
// fray.EncodeError/DecodeError that they would take from a remote worker.
func (j *JobContext) encodeResult(t *task, res any, err error) (backend.Payload, error) {
	if err != nil {
		if !j.direct {
			err = fray.DecodeError(fray.EncodeError(err))
		}
		return backend.Payload{}, err
	}
	if j.direct {
		return backend.Payload{Value: res}, nil
	}
	b, e := fray.Marshal(res)
	if e != nil {
		return backend.Payload{}, &fray.TaskError{Task: t.fn.Name, TaskID: string(t.obj.id), TypeName: fmt.Sprintf("%T", e),
			Message: "cannot encode the result: " + e.Error(), Cause: e}
	}
	return backend.Payload{Data: b}, nil
}

// TaskRunsInProcess reports whether a task submitted from ctx with options o would run as
// a goroutine of this process, by the rule SubmitTask applies (see "What runs in a
// process" in the package doc); when it would not, why names the reason. Callers use it to
// refuse, before submitting, work that relies on this process's memory (the executor and
// an in-memory mem:// bucket).
func (j *JobContext) TaskRunsInProcess(ctx context.Context, o fray.TaskOptions) (inProcess bool, why string) {
	env := o.RuntimeEnv
	if parent := parentEnv(ctx); !parent.IsZero() {
		env = parent.Merge(env)
	}
	switch {
	case o.MaxCalls > 0:
		return false, fmt.Sprintf("TaskOptions.MaxCalls is %d", o.MaxCalls)
	case !env.IsZero():
		return false, "it has a runtime env (RuntimeEnv.Env or PackageRequirements, its own or its parent task's)"
	case j.c.classFor(o.Resources, true).shape.gpu > 0:
		return false, "it asks for a GPU"
	case j.isolation == IsolateProcess:
		return false, "its job context runs every task in a worker process (Options.Isolation = IsolateProcess)"
	}
	return true, ""
}

// SubmitTask queues a task; it runs once its ArgRef (if any) is ready and its resources are
// free.
func (j *JobContext) SubmitTask(ctx context.Context, spec backend.TaskSpec) (backend.ObjectID, error) {
	return j.submitTask(ctx, spec, nil)
}

// submitTask is SubmitTask; with stream set, of a streaming task whose items go there.
func (j *JobContext) submitTask(ctx context.Context, spec backend.TaskSpec, stream *streamBuf) (backend.ObjectID, error) {
	if j.closed.Load() {
		return "", errClosed
	}
	fn, o := spec.Function, &spec.Options // checked and defaulted by the API
	if err := checkStreaming(fn, stream); err != nil {
		return "", err
	}
	cl := j.c.classFor(o.Resources, true)
	if o.Bundle != nil {
		var err error
		if cl, err = j.c.classInGroup(o.Resources, true, o.Bundle); err != nil {
			return "", err
		}
	}
	if cl.shape.infeasible != nil {
		return "", cl.shape.infeasible
	}
	var pr *procTask
	if o.MaxCalls > 0 || !o.RuntimeEnv.IsZero() || cl.shape.gpu > 0 || j.isolation == IsolateProcess || j.c.hasEnv.Load() {
		pr = j.processSpec(o.MaxCalls, fray.RuntimeEnv(o.RuntimeEnv), cl.shape.gpu > 0, parentEnv(ctx))
	}
	arg, err := j.payload(spec.Arg)
	if err != nil {
		return "", fmt.Errorf("local: task %s: argument: %w", fn.Name, err)
	}
	t := &task{job: j, fn: fn, class: cl, kind: kindTask, arg: arg, name: o.Name, pr: pr,
		retryExceptions: o.RetryExceptions, retriesLeft: int32(min(o.MaxRetries, math.MaxInt32)), stream: stream}
	t.init()
	j.mu.Lock()
	if j.closed.Load() {
		j.mu.Unlock()
		return "", errClosed
	}
	var dep *object
	if spec.ArgRef != "" {
		var ok bool
		if dep, ok = j.objectLocked(spec.ArgRef); !ok {
			j.mu.Unlock()
			return "", unknownObject(spec.ArgRef)
		}
		t.dep = dep
	}
	id := j.newIDLocked(&t.obj)
	if stream != nil {
		stream.id = id
	}
	switch {
	case dep != nil && !dep.done:
		t.state.Store(stWaitDep)
		ow := dep.waitList()
		ow.deps = append(ow.deps, t)
		j.mu.Unlock()
		return id, nil
	case dep != nil && dep.err != nil:
		// As in Ray, a task whose argument failed fails with the same error without running.
		t.state.Store(stFinished)
		ready := j.completeLocked(&t.obj, backend.Payload{}, dep.err, nil)
		j.mu.Unlock()
		j.submitAll(ready)
		return id, nil
	}
	t.state.Store(stQueued)
	j.mu.Unlock()
	j.c.submit(t)
	return id, nil
}

// Put stores an object.
func (j *JobContext) Put(ctx context.Context, value backend.Payload) (backend.ObjectID, error) {
	if j.closed.Load() {
		return "", errClosed
	}
	p, err := j.payload(value)
	if err != nil {
		return "", err
	}
	o := &object{done: true, val: p}
	j.mu.Lock()
	if j.closed.Load() {
		j.mu.Unlock()
		return "", errClosed
	}
	id := j.newIDLocked(o)
	j.mu.Unlock()
	return id, nil
}

// complete makes o ready with a value or an error and wakes whoever waits for it. Only the
// first completion counts.
func (j *JobContext) complete(o *object, p backend.Payload, err error) {
	j.mu.Lock()
	if o.done {
		j.mu.Unlock()
		return
	}
	ready := j.completeLocked(o, p, err, nil)
	j.mu.Unlock()
	j.submitAll(ready)
}

// completeLocked completes o and its dependents that fail with it, and appends to ready the
// dependents that can now be scheduled.
func (j *JobContext) completeLocked(o *object, p backend.Payload, err error, ready []*task) []*task {
	o.done, o.val, o.err = true, p, err
	if o.task != nil && o.task.stream != nil {
		o.task.stream.finish(err)
	}
	ow := o.wait
	o.wait = nil
	if o.released {
		j.forgetLocked(o.id)
	}
	if ow == nil {
		return ready
	}
	for _, w := range ow.waiters {
		w.need--
		if w.need == 0 {
			w.ch <- struct{}{}
		}
	}
	for _, e := range ow.sets {
		e.set.ready <- e.idx
	}
	deps := ow.deps
	for _, d := range deps {
		if err != nil {
			if d.state.CompareAndSwap(stWaitDep, stFinished) {
				ready = j.completeLocked(&d.obj, backend.Payload{}, err, ready)
			}
		} else if d.state.CompareAndSwap(stWaitDep, stQueued) {
			ready = append(ready, d)
		}
	}
	return ready
}

func (j *JobContext) submitAll(ts []*task) {
	for _, t := range ts {
		j.c.submit(t)
	}
}

// Get waits for every object; values that are ready are returned even when ctx is done.
func (j *JobContext) Get(ctx context.Context, ids []backend.ObjectID) ([]backend.Object, error) {
	if j.closed.Load() {
		return nil, errClosed
	}
	j.fetched.Add(int64(len(ids)))
	out := make([]backend.Object, len(ids))
	var pbuf [4]*object
	var ibuf [4]int
	pending, pendingIdx := pbuf[:0], ibuf[:0]
	j.mu.Lock()
	for i, id := range ids {
		o, ok := j.objectLocked(id)
		if !ok {
			j.mu.Unlock()
			return nil, unknownObject(id)
		}
		if o.done {
			out[i] = backend.Object{Payload: o.val, Err: o.err}
		} else {
			pending = append(pending, o)
			pendingIdx = append(pendingIdx, i)
		}
	}
	if len(pending) == 0 {
		j.mu.Unlock()
		return out, nil
	}
	w := newWaiter(len(pending))
	for _, o := range pending {
		o.addWaiter(w)
	}
	j.mu.Unlock()
	err := j.block(ctx, w, nil)
	j.mu.Lock()
	defer j.mu.Unlock()
	unregister(w, pending)
	freeWaiter(w)
	if err != nil {
		return nil, err
	}
	for k, o := range pending {
		out[pendingIdx[k]] = backend.Object{Payload: o.val, Err: o.err}
	}
	return out, nil
}

var waiters = sync.Pool{New: func() any { return &waiter{ch: make(chan struct{}, 1)} }}

func newWaiter(need int) *waiter {
	w := waiters.Get().(*waiter)
	w.need = need
	return w
}

// freeWaiter recycles w once no object refers to it any more (after unregister, with j.mu
// held, so that no completion can signal it again).
func freeWaiter(w *waiter) {
	select {
	case <-w.ch:
	default:
	}
	waiters.Put(w)
}

// unregister removes w from the objects that are still pending; j.mu is held.
func unregister(w *waiter, objs []*object) {
	for _, o := range objs {
		if o.done || o.wait == nil {
			continue
		}
		ws := o.wait.waiters
		for i, x := range ws {
			if x == w {
				last := len(ws) - 1
				ws[i] = ws[last]
				ws[last] = nil
				o.wait.waiters = ws[:last]
				break
			}
		}
	}
}

// block waits for w, ctx, a timer or the job closing. A task blocked here lends its CPU to
// the node meanwhile.
func (j *JobContext) block(ctx context.Context, w *waiter, timer <-chan time.Time) error {
	if t := runningTask(ctx, j.c); t != nil {
		defer j.c.lendCPU(t)()
	}
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timer:
		return nil
	case <-j.closedCh:
		return errClosed
	}
}

// Wait reports which objects are ready once numReturns are, the timeout passes or ctx is done.
func (j *JobContext) Wait(ctx context.Context, ids []backend.ObjectID, numReturns int, timeout time.Duration) ([]bool, error) {
	if j.closed.Load() {
		return nil, errClosed
	}
	mask := make([]bool, len(ids))
	objs := make([]*object, len(ids))
	ready := 0
	j.mu.Lock()
	for i, id := range ids {
		o, ok := j.objectLocked(id)
		if !ok {
			j.mu.Unlock()
			return nil, unknownObject(id)
		}
		objs[i] = o
		if o.done {
			mask[i] = true
			ready++
		}
	}
	if ready >= numReturns || timeout <= 0 || ctx.Err() != nil {
		j.mu.Unlock()
		return mask, nil
	}
	w := newWaiter(numReturns - ready)
	for _, o := range objs {
		if !o.done {
			o.addWaiter(w)
		}
	}
	j.mu.Unlock()
	var timer <-chan time.Time
	if timeout != fray.Forever {
		tm := time.NewTimer(timeout)
		defer tm.Stop()
		timer = tm.C
	}
	err := j.block(ctx, w, timer)
	j.mu.Lock()
	defer j.mu.Unlock()
	unregister(w, objs)
	freeWaiter(w)
	if err != nil && !isCtxErr(ctx, err) {
		return nil, err
	}
	for i, o := range objs {
		mask[i] = o.done
	}
	return mask, nil
}

func isCtxErr(ctx context.Context, err error) bool { return ctx.Err() != nil && err == ctx.Err() }

// Cancel cancels the task producing id: queued, it never runs; running, its context is
// cancelled. Either way its object fails with *fray.CancelledError at once and the task is not
// retried. With force, a task running in a worker process has its process killed; force
// changes nothing for in-process tasks: a goroutine cannot be killed. Cancelling a finished
// task or a Put object does nothing.
func (j *JobContext) Cancel(ctx context.Context, id backend.ObjectID, force bool) error {
	if j.closed.Load() {
		return errClosed
	}
	j.mu.Lock()
	o, ok := j.objectLocked(id)
	if !ok {
		j.mu.Unlock()
		return unknownObject(id)
	}
	t := o.task
	done := o.done
	j.mu.Unlock()
	if t == nil || done {
		return nil
	}
	// The process is read before cancelTask: cancelling the task's context ends the attempt,
	// which then forgets its process, and the kill would be lost. A run that starts after
	// this read sees force and kills its process itself.
	var proc *worker.Process
	if force && t.pr != nil {
		t.pr.force.Store(true)
		proc = t.pr.proc.Load()
	}
	j.cancelTask(t, &fray.CancelledError{TaskID: string(id)})
	if proc != nil {
		proc.Kill() // the attempt fails with a worker-died error, ignored: the task is cancelled
	}
	return nil
}

// cancelTask stops t from running (or cancels its context) and fails its object with err.
func (j *JobContext) cancelTask(t *task, err error) {
	for {
		s := t.state.Load()
		switch s {
		case stWaitDep, stQueued:
			if !t.state.CompareAndSwap(s, stCancelled) {
				continue
			}
		case stRunning:
			if !t.state.CompareAndSwap(s, stCancelled) {
				continue
			}
			// Complete first: once its context is cancelled the task may return and
			// complete the object with its own error.
			j.complete(&t.obj, backend.Payload{}, err)
			t.cancelCtx()
			return
		default:
			return
		}
		j.complete(&t.obj, backend.Payload{}, err)
		return
	}
}

// Release forgets objects the caller no longer references; a pending one goes once done.
func (j *JobContext) Release(ids []backend.ObjectID) {
	j.mu.Lock()
	for _, id := range ids {
		if o, ok := j.objectLocked(id); ok {
			if o.done {
				j.forgetLocked(id)
			} else {
				o.released = true
			}
		}
	}
	j.mu.Unlock()
}

// enter counts a task or call of this job as executing, unless the job is closed.
func (j *JobContext) enter() bool {
	j.active.Add(1)
	if j.closed.Load() {
		j.exit()
		return false
	}
	return true
}

func (j *JobContext) exit() {
	if j.active.Add(-1) == 0 && j.closed.Load() {
		select {
		case j.idleSig <- struct{}{}:
		default:
		}
	}
}

// Close ends the job: queued tasks and calls are cancelled, running ones have their contexts
// cancelled, job-scoped actors are killed, and Close returns once all of them have returned.
// A private cluster closes too (killing its detached actors). Later calls fail with errors
// matching fray.ErrClosed. Close is idempotent.
func (j *JobContext) Close() error {
	j.closeOnce.Do(j.close)
	return nil
}

func (j *JobContext) close() {
	j.closed.Store(true)
	close(j.closedCh)
	j.mu.Lock()
	var tasks []*task
	j.objects.each(func(o *object) {
		if o.task != nil && !o.done {
			tasks = append(tasks, o.task)
		}
	})
	actors := make([]*actor, 0, len(j.actors))
	for a := range j.actors {
		actors = append(actors, a)
	}
	j.actors = nil
	j.mu.Unlock()
	for _, t := range tasks {
		var proc *worker.Process // read before cancelTask, as in Cancel
		if t.pr != nil {
			t.pr.force.Store(true)
			proc = t.pr.proc.Load()
		}
		j.cancelTask(t, &fray.CancelledError{TaskID: string(t.obj.id)})
		if proc != nil {
			proc.Kill() // nothing of a closed job keeps running
		}
	}
	for _, a := range actors {
		a.kill(true, "its job context was closed")
	}
	for _, a := range actors {
		a.waitGoroutines()
	}
	j.c.removeOwnedGroups(j)
	for j.active.Load() > 0 {
		<-j.idleSig
	}
	j.procs.close()
	if j.owns {
		j.c.shutdown(j)
	}
	j.c.detach(j)
	j.mu.Lock()
	j.objects = newObjTable()
	j.mu.Unlock()
}

// NumObjects returns how many objects the job context holds (pending and ready), for tests
// and leak checks.
func (j *JobContext) NumObjects() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.objects.n
}
