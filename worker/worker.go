// Package worker is fray's worker mode, public: what a backend outside this module needs to
// run fray tasks and actors in worker processes of the same binary. It is a thin layer over
// the wire protocol fray's own backends speak (PROTOCOL.md); the local backend's process
// isolation uses the same machinery.
//
// # The explicit entry
//
// A worker process is the program itself, started again with the worker marker in its
// environment. Its main (or TestMain, for a test binary) calls Init first thing, as
// bigmachine's programs call bigmachine.Init: in a process started as a worker, Init serves
// calls from the parent on file descriptors 3 and 4 and exits the process when the parent
// is done with it; in any other process it freezes the task registry and returns.
//
//	func main() {
//		worker.Init() // serves and exits in a worker process; returns in the driver
//		jc := mybackend.New()
//		...
//	}
//
// Init is fray.Init with the worker loop named at the call: it passes internal/worker's
// loop to the entry fray.Init also runs (internal/workermode.Enter), so the path from main
// to the loop is a chain of calls a reader can follow, with no registration behind it.
// fray.Init, which cannot name the loop (the loop's package imports fray), reaches the same
// loop through the one link internal/worker makes when it is initialized
// (internal/worker/link.go); every fray backend package links it, and so does this one, so
// a program may call either. One that builds on an external backend and imports no fray
// backend calls worker.Init. Nothing here starts or registers anything at import time.
//
// # The parent side
//
// Start launches a worker process and completes the handshake, in which the worker checks
// that its task registry is the driver's (a *RegistryMismatchError otherwise). The returned
// *Process runs tasks (Run), creates actors and calls their methods (CreateActor,
// CallActor), and is ended with Close (orderly), Abort or Kill. Nested calls the code in the
// worker makes (tasks submitted from inside a task, Get, Wait, Put, actor calls) come back
// to the backend.JobContext given as Options.Host, attributed to the call that made them
// through the ctx's fray.TaskInfo.
//
// Errors are fray's typed errors: a worker that exits, crashes or is killed fails its calls
// with a *fray.WorkerDiedError (errors.Is fray.ErrWorkerDied), one that never reaches Init's
// worker loop fails Start with a *fray.WorkerStartError (fray.ErrWorkerStart, not to be
// retried), a task's own failure is the *fray.TaskError or application error it returned,
// and calls cut short by Close or Abort match fray.ErrClosed.
package worker

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/wire"
	iw "github.com/fray-go/fray/internal/worker"
	"github.com/fray-go/fray/internal/workermode"
)

// Init must be the first call in main (and in TestMain of test packages that start worker
// processes). In a process started as a fray worker it serves calls and exits the process
// (it never returns); elsewhere it freezes the task registry and returns. It does what
// fray.Init does, naming the worker loop itself; see the package doc.
func Init() { workermode.Enter(iw.ServeFromEnv) }

// IsWorker reports whether this process was started as a fray worker (by Start here or by a
// fray backend).
func IsWorker() bool { return fray.IsWorker() }

// Defaults for Options.
const (
	DefaultHandshakeTimeout = iw.DefaultHandshakeTimeout
	DefaultCloseGrace       = iw.DefaultCloseGrace
)

// RegistryMismatchError is Start's error when the worker's task registry differs from the
// driver's: the worker binary was built from different code, or registers functions
// conditionally. Build driver and worker from the same source.
type RegistryMismatchError = wire.RegistryMismatchError

// Options configure a worker process.
type Options struct {
	// Binary is the program to run; default the running executable (which must call Init,
	// or fray.Init, first thing in main).
	Binary string
	// Args are passed to the program.
	Args []string
	// Env entries (KEY=VALUE) are set over the parent's environment; later entries win.
	Env []string
	// Dir is the working directory; default the parent's.
	Dir string
	// Stdout and Stderr receive the worker's output (what tasks print); default the
	// parent's.
	Stdout, Stderr io.Writer
	// Host serves the worker's nested calls. Nil makes them fail with a
	// *fray.UnsupportedError.
	Host backend.JobContext
	// JobID and Namespace are the job the worker serves; JobID defaults to Host's.
	JobID, Namespace string
	// Logger receives the parent side's diagnostics; default slog.Default().
	Logger *slog.Logger
	// HandshakeTimeout bounds Start; default DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// CloseGrace is how long Close waits for a clean exit before killing; default
	// DefaultCloseGrace.
	CloseGrace time.Duration
	// MaxInFlight bounds how many calls the worker runs at once (0: no bound).
	MaxInFlight int
}

// Process is a running worker process. Its methods are safe for concurrent use; any number
// of calls may be in flight.
type Process struct {
	p *iw.Process
}

// Start launches a worker process and completes the handshake. ctx bounds only the start.
func Start(ctx context.Context, o Options) (*Process, error) {
	p, err := iw.Start(ctx, iw.StartOptions{
		Binary: o.Binary, ExtraArgs: o.Args, Env: o.Env, Dir: o.Dir,
		Stdout: o.Stdout, Stderr: o.Stderr, Host: o.Host, JobID: o.JobID, Namespace: o.Namespace,
		Logger: o.Logger, HandshakeTimeout: o.HandshakeTimeout, CloseGrace: o.CloseGrace,
		MaxInFlight: o.MaxInFlight,
	})
	if err != nil {
		return nil, err
	}
	return &Process{p: p}, nil
}

// PID returns the worker's process id.
func (p *Process) PID() int { return p.p.PID() }

// Done is closed when the process has exited, before the calls still waiting on it fail.
func (p *Process) Done() <-chan struct{} { return p.p.Done() }

// Err returns nil while the process runs and after Close or Abort; once it exited on its
// own (crash, kill, the OOM killer) it returns a *fray.WorkerDiedError with the exit status.
func (p *Process) Err() error { return p.p.Err() }

// Run runs task fn (a registered function of kind backend.KindTask) with arg, the codec's
// bytes (fray.Marshal, or a backend.Payload's Encoded), and returns the result's bytes.
// info is what fray.TaskInfoFrom reports inside the task; its PID is filled in by the
// worker. ctx ending asks the worker to cancel the task's ctx and waits for its answer (a
// *fray.CancelledError when the task honours ctx; Kill the process otherwise).
func (p *Process) Run(ctx context.Context, fn *backend.Function, arg []byte, info backend.TaskInfo) ([]byte, error) {
	return p.p.Run(ctx, fn.Name, arg, info)
}

// CreateActor runs the constructor of class (kind backend.KindActorClass) with arg and
// keeps the actor's state in the worker under id. Its calls run one at a time in arrival
// order, or up to maxConcurrency at once when that is above 1. A constructor failure is
// returned and leaves no actor behind.
func (p *Process) CreateActor(ctx context.Context, class *backend.Function, arg []byte, id backend.ActorID, maxConcurrency int, info backend.TaskInfo) error {
	return p.p.CreateActor(ctx, class.Name, arg, id, maxConcurrency, info)
}

// CallActor runs method (kind backend.KindMethod) on actor id with arg and returns the
// result's bytes.
func (p *Process) CallActor(ctx context.Context, id backend.ActorID, method *backend.Function, arg []byte, info backend.TaskInfo) ([]byte, error) {
	return p.p.CallActor(ctx, id, method.Name, arg, info)
}

// ReleaseActor drops actor id's state in the worker once its queued calls finish.
func (p *Process) ReleaseActor(id backend.ActorID) error { return p.p.ReleaseActor(id) }

// Kill SIGKILLs the worker and its process group: calls in flight fail with a
// *fray.WorkerDiedError (or fray.ErrClosed after Close or Abort). It does not wait.
func (p *Process) Kill() { p.p.Kill() }

// Close shuts the worker down (it finishes nothing: calls in flight fail matching
// fray.ErrClosed), killing it after Options.CloseGrace, and waits for the exit.
func (p *Process) Close() error { return p.p.Close() }

// Abort kills the worker at once; calls in flight fail matching fray.ErrClosed rather than
// with a worker-died error. It waits for the exit.
func (p *Process) Abort() { p.p.Abort() }
