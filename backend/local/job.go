package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"

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
