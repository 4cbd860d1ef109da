// Package procpool is the local backend's pool of worker processes: tasks that need a
// process of their own (MaxCalls, a runtime environment, crash isolation) run in the same
// binary started in worker mode (internal/worker), one call at a time per process.
//
//	pool := procpool.New(procpool.Options{Host: jc})
//	defer pool.Close()
//	out, err := pool.Run(ctx, procpool.Spec{Function: "examples.square", Arg: argBytes, MaxCalls: 1})
//
// Processes are grouped by Key (environment variables, pip requirements, GPU ids and
// MaxCalls). Run takes an idle process of the spec's key or starts one, runs the call and
// returns the process to the idle list, or retires it after MaxCalls calls. Idle processes
// exit after Options.IdleTimeout. Pip requirements are installed with `python3 -m venv` and
// pip into a virtualenv cached under Options.CacheDir by a hash of the sorted requirements;
// its bin directory leads the worker's PATH and VIRTUAL_ENV names it. Actors get a dedicated
// process each (StartActor) whose death is reported so MaxRestarts can rerun the
// constructor.
//
// The pool does no resource accounting: the scheduler admits work, assigns GPU ids (GPUSet)
// and then calls Run or StartActor.
package procpool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/worker"
)

// DefaultIdleTimeout is how long an idle worker process lives by default.
const DefaultIdleTimeout = time.Minute

// Options configure a Pool. One Pool serves one job context.
type Options struct {
	// Host serves the workers' nested calls (the job context); JobID and Namespace default
	// to Host's job.
	Host             backend.JobContext
	JobID, Namespace string
	// Binary is the worker program; default os.Executable(). ExtraArgs are passed to it.
	Binary    string
	ExtraArgs []string
	// Dir is the workers' working directory; default the parent's.
	Dir string
	// Stdout and Stderr receive the workers' output; default the parent's.
	Stdout, Stderr io.Writer
	// IdleTimeout: idle workers exit after this long; default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// CacheDir holds pip virtualenvs; default <user cache dir>/fray/venvs.
	CacheDir string
	// Python builds virtualenvs; default "python3".
	Python string
	// HandshakeTimeout bounds a worker's start; default worker.DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// Logger receives diagnostics; default slog.Default().
	Logger *slog.Logger
}

// Spec is one task call.
type Spec struct {
	Function string        // registered task name
	Arg      []byte        // fray.Marshal bytes of the argument
	Info     fray.TaskInfo // task id, name, attempt
	Env      fray.RuntimeEnv
	// MaxCalls retires the worker after that many calls (success or failure); 0 unlimited.
	MaxCalls int
	// GPUIDs become CUDA_VISIBLE_DEVICES (exactly those ids); nil leaves it inherited.
	GPUIDs []int
}

// Pool is a pool of worker processes. Safe for concurrent use.
type Pool struct {
	o     Options
	venvs *venvCache
	log   *slog.Logger

	mu      sync.Mutex
	closed  bool
	idle    map[Key][]*proc
	busy    map[*proc]bool
	actors  map[*Actor]bool
	started int
	retired sync.WaitGroup // background Close of retired and reaped workers
}

// proc is one pooled worker process.
type proc struct {
	p        *worker.Process
	key      Key
	calls    int
	maxCalls int
	timer    *time.Timer // idle reaper, while idle
}

// New returns a pool; it starts no process until the first call.
func New(o Options) *Pool {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Python == "" {
		o.Python = "python3"
	}
	if o.CacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		o.CacheDir = filepath.Join(base, "fray", "venvs")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.JobID == "" && o.Host != nil {
		o.JobID = o.Host.JobID()
	}
	return &Pool{o: o, log: o.Logger, venvs: &venvCache{dir: o.CacheDir, python: o.Python, builds: map[string]*venvBuild{}},
		idle: map[Key][]*proc{}, busy: map[*proc]bool{}, actors: map[*Actor]bool{}}
}

var errPoolClosed = fmt.Errorf("%w: the worker pool is closed", fray.ErrClosed)

// Run runs one task call in a worker process of the spec's key. A task failure is a
// *fray.TaskError; the worker dying under it is a *fray.WorkerDiedError (the pool replaces
// the process); a runtime environment that cannot be built is a *fray.RuntimeEnvError.
// ctx ending cancels the call's ctx in the worker; Run then returns when the worker answers.
func (p *Pool) Run(ctx context.Context, s Spec) ([]byte, error) {
	l, err := p.Acquire(ctx, s.Env, s.GPUIDs, s.MaxCalls)
	if err != nil {
		return nil, err
	}
	defer l.Release()
	return l.Run(ctx, s.Function, s.Arg, s.Info)
}

// Lease is exclusive use of one worker process, from Acquire until Release.
type Lease struct {
	pool *Pool
	pr   *proc
	once sync.Once
}

// Process returns the leased worker process.
func (l *Lease) Process() *worker.Process { return l.pr.p }

// Run runs a task on the leased process and counts the call towards MaxCalls.
func (l *Lease) Run(ctx context.Context, fn string, arg []byte, info fray.TaskInfo) ([]byte, error) {
	l.pr.calls++
	return l.pr.p.Run(ctx, fn, arg, info)
}

// Release gives the process back: to the idle list, or retired after MaxCalls calls or if it
// died.
func (l *Lease) Release() { l.once.Do(func() { l.pool.release(l.pr) }) }

// Acquire leases an idle worker process of the key for env, gpuIDs and maxCalls, or starts
// a new one (building the pip virtualenv first if needed).
func (p *Pool) Acquire(ctx context.Context, env fray.RuntimeEnv, gpuIDs []int, maxCalls int) (*Lease, error) {
	if err := env.Validate(); err != nil {
		return nil, err
	}
	key := KeyOf(env, gpuIDs, maxCalls)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errPoolClosed
	}
	for len(p.idle[key]) > 0 {
		list := p.idle[key]
		pr := list[len(list)-1]
		p.idle[key] = list[:len(list)-1]
		pr.timer.Stop()
		select {
		case <-pr.p.Done(): // died while idle
			continue
		default:
		}
		p.busy[pr] = true
		p.mu.Unlock()
		return &Lease{pool: p, pr: pr}, nil
	}
	p.mu.Unlock()
	wp, err := p.start(ctx, env, gpuIDs)
	if err != nil {
		return nil, err
	}
	pr := &proc{p: wp, key: key, maxCalls: maxCalls}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		wp.Abort()
		return nil, errPoolClosed
	}
	p.busy[pr] = true
	p.started++
	p.mu.Unlock()
	return &Lease{pool: p, pr: pr}, nil
}

// start launches a worker process with the runtime environment.
func (p *Pool) start(ctx context.Context, env fray.RuntimeEnv, gpuIDs []int) (*worker.Process, error) {
	venv, err := p.venvs.get(ctx, env.PackageRequirements)
	if err != nil {
		return nil, err
	}
	return worker.Start(ctx, worker.StartOptions{Binary: p.o.Binary, ExtraArgs: p.o.ExtraArgs,
		Env: workerEnv(env, venv, gpuIDs), Dir: p.o.Dir, Stdout: p.o.Stdout, Stderr: p.o.Stderr,
		Host: p.o.Host, JobID: p.o.JobID, Namespace: p.o.Namespace, Logger: p.log,
		HandshakeTimeout: p.o.HandshakeTimeout})
}

func (p *Pool) release(pr *proc) {
	p.mu.Lock()
	delete(p.busy, pr)
	dead := false
	select {
	case <-pr.p.Done():
		dead = true
	default:
	}
	if dead {
		p.mu.Unlock()
		return
	}
	if p.closed { // Close saw this process busy and has aborted it
		p.mu.Unlock()
		return
	}
	if pr.maxCalls > 0 && pr.calls >= pr.maxCalls {
		p.retireLocked(pr)
		p.mu.Unlock()
		return
	}
	pr.timer = time.AfterFunc(p.o.IdleTimeout, func() { p.reap(pr) })
	p.idle[pr.key] = append(p.idle[pr.key], pr)
	p.mu.Unlock()
}

// retireLocked closes a worker in the background (Close waits for the process). The caller
// holds p.mu and the pool is not closed, so the Add happens before Close's Wait.
func (p *Pool) retireLocked(pr *proc) {
	p.retired.Add(1)
	go func() {
		defer p.retired.Done()
		pr.p.Close()
	}()
}

// reap retires a worker that stayed idle for IdleTimeout.
func (p *Pool) reap(pr *proc) {
	p.mu.Lock()
	list := p.idle[pr.key]
	for i, x := range list {
		if x == pr {
			p.idle[pr.key] = append(list[:i:i], list[i+1:]...)
			if len(p.idle[pr.key]) == 0 {
				delete(p.idle, pr.key)
			}
			p.retireLocked(pr)
			p.mu.Unlock()
			return
		}
	}
	p.mu.Unlock() // acquired meanwhile
}

// Stats is a snapshot of the pool.
type Stats struct {
	Idle, Busy, Actors int
	Started            int // task worker processes started so far
}

// Stats returns a snapshot of the pool.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{Busy: len(p.busy), Actors: len(p.actors), Started: p.started}
	for _, l := range p.idle {
		s.Idle += len(l)
	}
	return s
}

// Close kills every worker process, pooled, busy and actor, and waits for them to exit.
// Calls in flight fail with an error matching fray.ErrClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	var all []*worker.Process
	for _, l := range p.idle {
		for _, pr := range l {
			pr.timer.Stop()
			all = append(all, pr.p)
		}
	}
	p.idle = map[Key][]*proc{}
	for pr := range p.busy {
		all = append(all, pr.p)
	}
	var actors []*Actor
	for a := range p.actors {
		actors = append(actors, a)
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, wp := range all {
		wg.Add(1)
		go func() { defer wg.Done(); wp.Abort() }()
	}
	for _, a := range actors {
		wg.Add(1)
		go func() { defer wg.Done(); a.abort() }()
	}
	wg.Wait()
	p.retired.Wait()
	return nil
}

// --- actors ----------------------------------------------------------------------------

// ActorSpec is one actor creation.
type ActorSpec struct {
	Class          string // registered actor class
	Arg            []byte // fray.Marshal bytes of the constructor argument
	ID             backend.ActorID
	MaxConcurrency int
	Info           fray.TaskInfo
	Env            fray.RuntimeEnv
	GPUIDs         []int
	// OnDeath, if set, is called once, from its own goroutine, when the actor's process
	// exits other than through Actor.Close or Pool.Close (a crash or Actor.Kill), with the
	// *fray.WorkerDiedError. The scheduler restarts the actor from there if it may.
	OnDeath func(err error)
}

// Actor is an actor living in a dedicated worker process.
type Actor struct {
	pool *Pool
	p    *worker.Process
	id   backend.ActorID
	done chan struct{}
}

// StartActor starts a dedicated process and runs the actor's constructor in it. A
// constructor failure is returned (a *fray.TaskError) and the process is closed.
func (p *Pool) StartActor(ctx context.Context, s ActorSpec) (*Actor, error) {
	if err := s.Env.Validate(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, errPoolClosed
	}
	wp, err := p.start(ctx, s.Env, s.GPUIDs)
	if err != nil {
		return nil, err
	}
	if err := wp.CreateActor(ctx, s.Class, s.Arg, s.ID, s.MaxConcurrency, s.Info); err != nil {
		wp.Close()
		return nil, err
	}
	a := &Actor{pool: p, p: wp, id: s.ID, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		wp.Abort()
		return nil, errPoolClosed
	}
	p.actors[a] = true
	p.mu.Unlock()
	go func() {
		<-wp.Done()
		p.mu.Lock()
		delete(p.actors, a)
		p.mu.Unlock()
		if err := wp.Err(); err != nil && s.OnDeath != nil {
			s.OnDeath(&fray.WorkerDiedError{Task: "actor " + string(s.ID) + " (" + s.Class + ")", Reason: reasonOf(err)})
		}
		close(a.done)
	}()
	return a, nil
}

func reasonOf(err error) string {
	var wd *fray.WorkerDiedError
	if errors.As(err, &wd) {
		return wd.Reason
	}
	return err.Error()
}

// Call runs method ("<class>.<method>") on the actor. If the process dies, the call fails
// with a *fray.WorkerDiedError.
func (a *Actor) Call(ctx context.Context, method string, arg []byte, info fray.TaskInfo) ([]byte, error) {
	return a.p.CallActor(ctx, a.id, method, arg, info)
}

// PID returns the actor's process id.
func (a *Actor) PID() int { return a.p.PID() }

// Done is closed once the actor's process has exited and OnDeath (if any) has returned.
func (a *Actor) Done() <-chan struct{} { return a.done }

// Kill SIGKILLs the actor's process; OnDeath is called.
func (a *Actor) Kill() { a.p.Kill() }

// Close ends the actor without calling OnDeath and waits for its process to exit.
func (a *Actor) Close() error {
	err := a.p.Close()
	<-a.done
	return err
}

// Abort SIGKILLs the actor's process without calling OnDeath (the scheduler killed it on
// purpose) and waits for it to exit.
func (a *Actor) Abort() { a.abort() }

func (a *Actor) abort() {
	a.p.Abort()
	<-a.done
}
