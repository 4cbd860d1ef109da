// Package local is fray's embedded backend: tasks, actors and objects run inside the calling
// process, with exact resource accounting on one logical node.
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
// runs, a running one has its context cancelled (force changes nothing: a goroutine cannot
// be killed), and a cancelled task is never retried. RetryExceptions retries tasks that
// returned an error or panicked, up to TaskOptions.EffectiveMaxRetries times (-1: without
// limit); system failures do not happen in-process. A task's context is also cancelled when
// it returns. Close cancels the job's queued and running tasks and calls, kills its
// job-scoped actors and returns once all of them have returned, so a task that ignores its
// context holds Close up.
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
// Options that need a task or actor to have its own process (TaskOptions.MaxCalls,
// RuntimeEnv.PackageRequirements, RuntimeEnv.Env) are refused with *fray.UnsupportedError by
// routeToProcess; the process worker pool will take those cases.
package local
