// Package fray is Ray's model — tasks, actors and objects — for Go, behind one
// backend-agnostic API.
//
//	var Square = fray.NewTask("examples.square", func(ctx context.Context, x int) (int, error) {
//		return x * x, nil
//	})
//
//	func main() {
//		fray.Init() // in a worker process (this binary, started by a backend) this serves calls
//		jc, err := local.New(local.Options{}) // or ray.Connect(ctx, ray.Options{...})
//		if err != nil {
//			log.Fatal(err)
//		}
//		defer jc.Close()
//		ctx := fray.WithJobContext(context.Background(), jc)
//		v, err := Square.Call(ctx, 3) // 9: Remote, then Get on the Ref it returns
//	}
//
// examples/quickstart is this program; MIGRATION.md maps each Ray pattern to this API.
//
// # Backends
//
// A job context (a backend.JobContext) connects a program to a backend. backend/local runs everything inside the
// process (with real resource accounting, and worker processes where a task needs process
// semantics); backend/ray runs the same functions on a real Ray cluster through a small Python
// bridge. Code written against this package runs unchanged on both.
//
//	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 4, "head_node": 1}})
//	// or: jc, err := ray.Connect(ctx, ray.Options{Address: "auto", Namespace: "marin"})
//	ctx := fray.WithJobContext(context.Background(), jc)
//
// # Tasks
//
// Tasks are registered once, at package level, under a stable name, and are typed end to end:
//
//	var Square = fray.NewTask("examples.square", func(ctx context.Context, x int) (int, error) {
//		return x * x, nil
//	})
//
//	ref, err := Square.Remote(ctx, 3, fray.TaskOptions{Resources: fray.Resources{"CPU": 1}})
//	v, err := ref.Get(ctx) // v is an int
//
// Registration at package level matters: a worker process is the same binary started in
// worker mode, and it finds functions by name. Call fray.Init first thing in main (and in
// TestMain) so that such a process serves calls instead of running main.
//
// # Actors
//
// An actor class is a constructor plus methods; its state lives in one place and its calls
// run one at a time in submission order (ActorOptions.MaxConcurrency allows more):
//
//	var Counter = fray.NewActor("examples.Counter", newCounter)
//	var Add = fray.NewMethod(Counter, "Add", (*CounterState).Add)
//
//	h, err := Counter.Create(ctx, 0, fray.ActorOptions{Name: "counter"})
//	ref, err := Add.Remote(ctx, h, 5) // no .remote(): a call returns a Ref
//
// Named actors live in namespaces; GetIfExists finds an existing one; Detached actors outlive
// their creator.
//
// # Placement groups
//
// CreatePlacementGroup reserves bundles of resources together with Ray's strategies (Pack,
// Spread, StrictPack, StrictSpread); Ready waits for the reservation with a timeout, and
// TaskOptions.Placement / ActorOptions.Placement schedule work into a bundle (or AnyBundle),
// drawing on the bundle's reservation. Remove frees it, failing the tasks in it and killing
// its actors. Groups may be named (GetPlacementGroup) and Detached. A backend without them
// implements no backend.PlacementGroups and every call fails with ErrUnsupported.
// MIGRATION.md, "Placement groups".
//
// # Objects
//
// Ref[T] is a small, copyable reference to a value a task or Put will produce. Get blocks (the
// ctx deadline is the timeout), GetAll keeps input order, Wait returns ready and pending refs
// of mixed types in input order, Cancel stops a task. A Ref passed as a task's top-level
// argument (RemoteRef) is resolved before the task runs; Refs nested in values travel as refs.
//
// # Streams
//
// NewStreamTask and NewStreamMethod register functions that yield values (Ray's generators
// with num_returns="streaming"); Remote returns a *Stream[R] read with Next or ranged over
// with All while the producer runs, back-pressured (StreamOptions.Backpressure) and
// cancellable, with the producer's error after its values.
//
// # The job context
//
// The job context travels in context.Context. Every task and actor method receives a ctx that
// carries it (and TaskInfoFrom(ctx) describes the running call), so nested tasks need nothing
// extra. Forgetting to set it is an error wrapping ErrNoJobContext that says how to fix it;
// so is dropping it inside a task (a nested call with context.Background() instead of the
// task's ctx), on every backend: only SetDefaultJobContext, called by the program itself in
// that process, provides a fallback (see JobContextFrom).
//
// # Options and resources
//
// TaskOptions and ActorOptions carry Marin's vocabulary (Name, Resources, MaxCalls,
// MaxRetries, RetryExceptions, RuntimeEnv; Namespace, GetIfExists, Lifetime, MaxRestarts,
// MaxTaskRetries, MaxConcurrency). Resources are keyed as in Ray ("CPU", "GPU", "memory", "TPU",
// "head_node", ...) and validated as Ray validates them; Ray's keyword spellings such as
// "num_cpus" are rejected with a message naming the right key. A backend that cannot honour
// an option returns an error matching ErrUnsupported; nothing is ignored silently.
//
// # Errors
//
// Errors are typed and the same on every backend: *TaskError (a task returned an error,
// panicked, with the remote stack, or ended its goroutine with runtime.Goexit, as t.FailNow
// does), *CancelledError, *TimeoutError, *ActorDiedError, *WorkerDiedError (a worker process
// died, also while starting), *WorkerStartError (a worker program that never reached
// fray.Init), *ObjectLostError, *SerializationError,
// *UnsupportedError, *InfeasibleError, *UnknownNameError, *RuntimeEnvError, *PlacementError,
// *PlacementGroupRemovedError, *PlacementGroupTimeoutError, each matching a
// sentinel (ErrTaskFailed, ErrCancelled, ...) with errors.Is. Application error types
// registered with RegisterError survive process boundaries, so errors.As finds them.
//
// # Values
//
// Values cross process boundaries through one CBOR codec (Marshal, Unmarshal). Channels,
// functions, structs with unexported fields, cyclic values (n.Next = n) and values nested
// more than MaxNesting levels deep are refused with a *SerializationError at the call site
// (for a task's result: from Get) instead of arriving broken or crashing the process. The local backend round-trips values through the
// codec by default so a test that passes locally does not fail on a cluster.
//
// # Writing a backend
//
// A backend implements backend.JobContext, the SPI in package
// github.com/fray-go/fray/backend, whose documentation is the contract: this package checks
// and defaults every call (functions resolved, options validated and made effective) before
// the backend sees it. Optional interfaces there add streams (backend.StreamJobContext) and
// readiness watching for AsCompleted (backend.ReadyWatcher). The fraytest package is the
// conformance suite every backend passes.
package fray
