// Package local is fray's embedded backend: tasks, actors and objects run inside the calling
// process, with exact resource accounting on one logical node, and work that needs a process
// of its own runs in worker processes that are the same binary (see "What runs in a
// process").
//
//	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 4, "head_node": 1}})
//	if err != nil { ... }
//	defer jc.Close()
//	ctx := fray.WithJobContext(context.Background(), jc)
//
// # Node, cluster and job contexts
//
// A Cluster is one node: its resources, its scheduler, its actors and the registry of named
// actors. A JobContext is one job (one driver) attached to a cluster; it owns the objects its
// tasks produce and the job-scoped actors it creates. New without Options.Cluster makes a
// private cluster that closes with the job context. Several job contexts can attach to one
// Cluster made with NewCluster, like several drivers on one Ray cluster: a detached actor made
// by one of them outlives it and can be looked up by the others until the cluster closes.
//
// # Scheduling
//
// Resource amounts are kept in fixed point (fray.Units, 0.0001). Each distinct resource shape
// is a scheduling class with its own FIFO queue, so a task waiting for a GPU never holds up
// CPU tasks behind it, and submitting or dispatching a task costs the same whatever the queue
// length. Tasks hold fray.TaskResources of their request while they run; actors need the
// placement part of fray.ActorResources to start and hold the held part while they live.
// A request that the node could never satisfy fails at submission with *fray.InfeasibleError.
// As in Ray, a task blocked in Get or Wait lends its CPU back to the node until it resumes,
// so nested tasks cannot deadlock a full node.
//
// # Values
//
// By default every argument, result and Put value is encoded with fray's codec and decoded
// again, so a value that could not travel to a Ray worker fails in a local test too, and task
// errors are passed through fray.EncodeError/DecodeError so their types are what a remote
// backend gives. Options.DirectValues passes Go values and errors through unchanged, which is
// faster but hides those problems.
//
// # Cancellation, retries and Close
//
// Cancel fails the task's object with *fray.CancelledError at once: a queued task never
// runs, a running one has its context cancelled, and a cancelled task is never retried.
// With force, a task running in a worker process has its process killed; an in-process
// task cannot be killed (force changes nothing for a goroutine). Tasks are retried up to
// TaskOptions.MaxRetries times (3 by default; -1: without limit) after a system failure (their
// worker process died), and also after returning an error or panicking with
// RetryExceptions. A task's context is also cancelled when it returns. Close cancels the
// job's queued and running tasks and calls, kills its job-scoped actors and its worker
// processes and returns once all of them have returned, so an in-process task that ignores
// its context holds Close up.
//
// # Actors
//
// An actor's constructor runs asynchronously once its placement resources are free; a
// failing constructor kills the actor, and every call then fails with *fray.ActorDiedError
// whose Reason carries the constructor's error. The constructor's context stays valid for
// the actor's life and is cancelled when it dies or restarts. Each method call runs with a
// context that carries the calling job's job context, so tasks it submits and refs it makes
// belong to the caller. Named actors are unique per namespace across the whole cluster,
// including those made by other job contexts, and a dead actor's name is free again.
// KillActor fails queued and running calls with *fray.ActorDiedError; with restarts allowed
// and left, the constructor runs again (state lost) and later calls go to the new instance.
//
// # What runs in a process
//
// A task runs in a worker process when TaskOptions.MaxCalls > 0, when it has a runtime env
// (RuntimeEnv.Env or RuntimeEnv.PackageRequirements, its own or inherited), when it asks
// for a GPU, or when its job context was made with Options.Isolation = IsolateProcess; an
// actor when it has a runtime env, holds a GPU or its job isolates. Everything else runs as
// goroutines of the driver. Worker processes are the running executable started in worker
// mode, so main (or TestMain) must call fray.Init() first thing.
//
// Process work is scheduled like the rest, against the same ledger: once its resources are
// free, the goroutine that would have run it hands the call to a worker process
// (internal/procpool) and waits for the answer. Idle task workers are kept per key (runtime
// env, GPU ids, MaxCalls) and reused; one exits after WorkerOptions.IdleTimeout idle, and
// after MaxCalls calls (successful or not), so the next call gets a fresh one. GPU tasks
// without MaxCalls get 1, as in Ray. Each actor in a process has a process of its own.
//
// A task holding GPUs gets CUDA_VISIBLE_DEVICES naming exactly the GPU ids it holds: whole
// amounts take whole free GPUs, fractions share one (Ray's rule); the node's GPU count is
// ClusterOptions.Resources["GPU"]. On a node with GPUs, process work holding none gets an
// empty CUDA_VISIBLE_DEVICES. RuntimeEnv.Env is set in the worker's environment over the
// driver's (never in the driver's own); a nested task, and a task submitted by an actor
// method, run with their parent's runtime env merged under their own (the child's
// variables win, requirements add up), as Ray merges env_vars. PackageRequirements are
// installed with python3 -m venv and pip into a virtualenv cached under
// WorkerOptions.VenvDir by a hash of the sorted requirements; its bin directory leads PATH.
// A failed build fails the task with *fray.RuntimeEnvError (not retried), or kills the
// actor with the error as the reason.
//
// Nested calls from a worker process (tasks, Get, Wait, Put, actors) come back over its
// pipes to the job context of the call that made them, through the same scheduler, and a
// task blocked in Get or Wait lends its CPU as in-process tasks do.
//
// Crash isolation: a worker process that exits, crashes or is killed never takes the driver
// down. A task whose worker died is retried in a fresh process up to TaskOptions.MaxRetries
// times and then fails with *fray.WorkerDiedError. When an actor's process dies, the call in
// flight and the queued calls fail with *fray.ActorDiedError; with MaxRestarts left the
// constructor runs again in a fresh process (state lost), calls made meanwhile wait for it,
// and with MaxTaskRetries the cut-short calls run again on it instead of failing (a killed
// in-process call's goroutine cannot be stopped: its context is cancelled and its outcome
// ignored). Without restarts left the actor is dead.
// KillActor kills the process. Task workers and job-scoped actors belong to their job
// context and detached actors to the cluster; closing either kills its processes and waits
// for them, and worker processes exit on their own when the driver dies (their pipes reach
// end of file).
package local
