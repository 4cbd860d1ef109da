// Package ray runs fray tasks and actors on a Ray cluster.
//
//	jc, err := ray.Connect(ctx, ray.Options{Address: "auto", Namespace: "marin"})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer jc.Close()
//	ctx = fray.WithJobContext(ctx, jc) // from here on, the same code as on the local backend
//
// The program calls fray.Init() first thing in main, because Ray workers run this same
// binary in worker mode. Connect needs a Python with ray and cbor2 (Options.Python,
// $FRAY_PYTHON or ./.venv; scripts/setup-python.sh makes one).
//
// Ray has no released Go API, so the backend has three parts:
//
//   - The bridge: a Python Ray driver (python/fray_bridge.py, embedded in the Go binary and
//     written to a cache directory at Connect) that the Go program starts with the Python
//     that has ray and cbor2 (scripts/setup-python.sh makes ./.venv). Go talks to it over two
//     inherited pipes (its fds 3 and 4) in internal/wire's framing. The bridge calls
//     ray.init(address, namespace, runtime_env) and keeps ObjectRefs and ActorHandles in
//     tables keyed by ids the Go side holds and releases (Release, driven by fray.Ref's
//     garbage collection). Blocking calls (get, wait, actor lookups) run on a thread pool, so
//     one slow Get never blocks other calls. It exits when its input pipe closes, which ends
//     the Ray job: job-scoped actors die with it, as in Ray. Its output (which includes the
//     output of the job's workers, forwarded by Ray) goes to Options.Logger line by line.
//     Values of 64 KiB and more cross between Go and the bridge through shared memory (an
//     anonymous memfd the bridge inherits as fd 5: two rings and a spill; see shm.go,
//     spill.go and Options.SharedMemory) rather than the pipes. A Put value is copied once
//     into the to-bridge ring (or, too large for it, the spill, which grows to fit) and
//     stored with ray.put straight from there. A Get answer's large values are copied once
//     from Ray's object store into the from-bridge ring; those that do not fit there are
//     read by Go with one process_vm_readv from where ray.get left them in the bridge,
//     which keeps them alive until Go has copied them (vmread.go), or, where the kernel
//     does not let Go read its child's memory, cross the pipe.
//
//   - The worker shim (python/fray_ray/shim.py, shipped to workers as a runtime_env
//     py_module): a Ray remote function and a Ray actor class that start this binary in fray
//     worker mode (FRAY_WORKER=1, frames on fds 3 and 4, see internal/wire/PROTOCOL.md) as a
//     persistent child — one per Ray worker process for tasks, one per actor — forward calls
//     to it, and serve its nested calls (submit, get, wait, put, actors, named-actor lookup)
//     through Ray. The thread running a call reads the child's answer itself (a helper
//     thread reads only while calls wait without a reader, or the child is idle), and the Go
//     child runs a call on the goroutine that read it: each hand-off between threads costs a
//     wake-up, which on a busy machine costs more than a short call. The child gets
//     PR_SET_PDEATHSIG and watches its parent, and the shim kills it at exit, so no child
//     outlives its Ray worker. While the Go child waits on a nested Get, or on a placement
//     group's Ready, the thread running the Ray task waits on the same refs (the group's
//     ready() ref) with ray.wait, so Ray releases the task's CPU and nested tasks, or a gang
//     the task schedules beside itself, cannot deadlock a full cluster. Nested submissions
//     are checked for feasibility there too (python/fray_ray/feasible.py, the twin of
//     feasible.go), since they never pass this package.
//
//   - This package: Connect and the JobContext (backend.JobContext) that sends the bridge one
//     message per operation. Task submissions, actor calls and puts are one-way messages
//     carrying an object id the Go side chose, so submitting is not a round trip.
//
// One task's path, Remote then Get (Go driver, bridge, shim and Go child are processes;
// a small argument and result travel inside the frames, large ones through shared memory
// as above):
//
//	Go driver ──Submit (pipe, one-way)──▶ bridge ──f.remote(packed call)──▶ Ray (raylet, GCS)
//	                                                                          │ schedules
//	                                                                          ▼
//	Go child ◀──Run frame (pipe)── shim in a Ray worker ◀──run_task(call, arg)─┘
//	    │ runs the registered Go function
//	    └──Result frame──▶ shim ──returns bytes──▶ Ray object store
//	Go driver ──Get──▶ bridge ──ray.get──▶ object store; the value back by frame, ring
//	                                        or process_vm_readv
//
// A nested call inside the Go child (Submit, Get, Put, actors, placement groups) goes the
// other way: a frame to the shim, which makes the Ray call in the worker (see above).
//
// # What maps to what
//
//	TaskOptions.Resources        num_cpus (CPU, default 1), num_gpus (GPU), memory, resources={...} (the rest)
//	TaskOptions.Name             .options(name=...)
//	TaskOptions.MaxCalls         max_calls (the Ray worker exits after N calls; its Go child with it)
//	TaskOptions.MaxRetries       max_retries (nil: 3; -1: unlimited)
//	TaskOptions.RetryExceptions  retry_exceptions=True
//	RuntimeEnv                   runtime_env={"pip": PackageRequirements, "env_vars": Env}; the Go child
//	                             inherits the Ray worker's environment, and the bin directory of the
//	                             worker's Python (the pip virtualenv) leads its PATH
//	ActorOptions.Name/Namespace  name=, namespace= (default: the job's namespace)
//	ActorOptions.GetIfExists     get_if_exists=True (an existing actor is returned; its class is checked)
//	ActorOptions.Lifetime        lifetime="detached"
//	ActorOptions.MaxRestarts     max_restarts (the constructor re-runs in a fresh process and Go child)
//	ActorOptions.MaxTaskRetries  max_task_retries (calls cut short by the actor's death run again after its restart)
//	ActorOptions.MaxConcurrency  max_concurrency (a threaded Ray actor; the Go child runs calls concurrently)
//	ActorOptions.Resources       as for tasks; none given: Ray's 1 CPU to place and 0 held
//	Ref.Get / GetAll             ray.get (failed objects give their errors, in input order)
//	Wait                         ray.wait(fetch_local=False): ready means finished, successfully or not
//	Put                          ray.put
//	Cancel                       ray.cancel(force=, recursive=True); a running Go task's ctx is cancelled
//	ActorHandle.Kill             ray.kill(no_restart=!AllowRestart)
//	top-level ref arguments      passed to Ray as top-level arguments, so Ray resolves them (and a failed
//	                             upstream fails the dependent task without running it)
//	CreatePlacementGroup         ray.util.placement_group(bundles, strategy=, name=, lifetime="detached"),
//	                             named in the job's namespace (Ray has no other); Ray's state API
//	                             (`ray list placement-groups`) shows it
//	PlacementGroup.Ready         pg.wait(timeout), cancellable from Go
//	PlacementGroup.Remove        ray.util.remove_placement_group; this job's unfinished tasks in the
//	                             group fail at once with *fray.PlacementGroupRemovedError and are
//	                             force-cancelled (Ray would retry a running one into the removed group)
//	GetPlacementGroup            the GCS's placement group of that name, in any namespace
//	TaskOptions/ActorOptions.Placement
//	                             scheduling_strategy=PlacementGroupSchedulingStrategy(pg, bundle index)
//
// # Refs inside values
//
// A Ref encodes as [job, id] and an actor handle as [job, id, class, name, namespace]. When
// a value leaves a process (a task argument, a Put, a task result) the bridge or shim finds
// the ids of its own objects and actors in the value's bytes and sends the matching
// ObjectRefs and ActorHandles with it, nested in a tuple, so that Ray serializes them in band
// with its reference counting (borrowers keep objects alive) and does not resolve them. The
// receiver files them under the same ids, so a worker that is handed a Ref it did not create
// can Get it. A Ref sent elsewhere stays pinned until the job ends, as fray documents.
//
// # Errors
//
// A Go task's error makes the Ray task fail with a Python exception carrying the
// fray.EncodeError bytes, so Ray's retry_exceptions and dependent-failure propagation apply.
// Ray's exceptions map to fray's errors: RayTaskError with fray's exception → the original
// error; WorkerCrashedError (also when the Go child dies: the shim then exits its Ray worker
// so Ray sees the crash and retries per max_retries) → *fray.WorkerDiedError;
// RayActorError, ActorDiedError, ActorUnavailableError → *fray.ActorDiedError;
// TaskCancelledError → *fray.CancelledError; GetTimeoutError → timeout;
// ObjectLostError, OwnerDiedError → *fray.ObjectLostError; RuntimeEnvSetupError →
// *fray.RuntimeEnvError, whose Detail is one line: pip's own ERROR lines (Ray's traceback
// around them still reaches Options.Logger). A runtime env that fails is not retried by the
// task's MaxRetries (Ray's runtime-env agent keeps the failure per env and answers with
// it), only by the agent itself, RUNTIME_ENV_RETRY_TIMES times (Ray's default 3, 1 s
// apart; scripts/ray-cluster.sh sets 1, as pip retries network errors itself). If the
// bridge itself dies, every call fails with *BridgeError
// (errors.Is fray.ErrClosed), never a hang.
//
// # Infeasible requests
//
// Ray keeps a request that no node can satisfy pending forever, with a warning (waiting for
// an autoscaler). This backend instead checks each task's and actor's resources against the
// alive nodes' totals at submission (refreshing the node list once before failing) and
// fails with *fray.InfeasibleError, which is friendlier and matches the local backend.
// Tasks and actors submitted from inside a task never pass the driver: the worker shim
// applies the same rule to them (python/fray_ray/feasible.py, checked against this
// package's table by a test), against the node list as it saw it last. Set
// Options.AllowInfeasible for Ray's behaviour (autoscaling clusters), in the driver and the
// shims alike. Placement groups are
// checked the same way: a bundle no node fits, STRICT_PACK bundles no one node holds, and
// STRICT_SPREAD with more bundles than nodes fail at creation. Ray's rule that TPU
// requests are 1, 2, 4 or 8 chips is part of fray's own validation (fray.Resources.Validate),
// so such requests fail at the call site on every backend.
//
// # Shipping the binary
//
// Workers run the Go binary named by Options.Binary (default: this program). With ShipPath
// (the default) they get its absolute path, right for a one-machine cluster or a shared
// file system; with ShipWorkingDir it is copied into a staging directory that becomes the
// job's runtime_env working_dir, which Ray uploads to every node. At the handshake each Go
// child compares its registry with the driver's (digest and manifest, passed through the
// job's runtime env) and refuses to run calls from a different build.
//
// # Token authentication and loopback
//
// Connect finds the cluster's token for Ray's token authentication in Options.AuthTokenFile,
// else Ray's own RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH, else .cache/ray-auth-token (what
// scripts/ray-cluster.sh writes) in the working directory or one of its parents. The
// bridge gets where the token is, asks the cluster's GCS once before ray.init, and turns
// Ray's token mode on only when the cluster asks for it: a driver in token mode cannot own
// actors on a cluster without authentication (Ray rejects the cluster's calls to it). A
// cluster that refuses the token, or its absence, fails Connect at once with *AuthError.
// The token never enters the job's runtime env; Ray workers, and the shim in them, get it
// from their raylet's environment. For an address on 127.0.0.1 whose nodes are on loopback
// too (a cluster bound to loopback), the bridge keeps the address as it is, which Ray's
// Python otherwise replaces with the machine's address (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0
// does the same for other Python drivers).
//
// A driver whose Python has another Ray or Python version than the cluster's (Ray refuses
// it in ray.init) fails Connect with a *VersionMismatchError that names both versions.
//
// # Running it
//
//	scripts/setup-python.sh                # ./.venv with ray==2.60.0 and cbor2
//	eval "$(scripts/ray-cluster.sh start)" # a local cluster on 127.0.0.1 with a token;
//	                                       # exports RAY_ADDRESS and the token's variables
//	go test ./backend/ray/
//	scripts/ray-cluster.sh stop            # ends that cluster only
//
// The tests skip when RAY_ADDRESS is unset, unless CI is set, in which case a missing
// cluster is a failure.
package ray
