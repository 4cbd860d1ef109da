// Package freshproc is a small fray backend written outside fray's module, against fray's
// public packages only (fray, backend, worker, fraytest): the proof that the backend seam
// (package backend) and the public worker mode (package worker) are enough to write one.
// It passes fray's conformance suite (conformance_test.go).
//
// It is deliberately simple, and a real backend nonetheless:
//
//   - every task runs in a fresh worker process of the running binary, started with the
//     task's runtime env, and the process ends with the task (so TaskOptions.MaxCalls is
//     always honoured);
//   - every actor lives in a worker process of its own, restarted (constructor run again,
//     state lost) when it dies with ActorOptions.MaxRestarts left, its cut-short calls run
//     again with MaxTaskRetries left;
//   - objects (Put values, results) live in the driver, in the job context that made them;
//     Get, Wait and nested calls from worker processes read them there;
//   - a Cluster is a resource ledger, and the namespace of named and detached actors that
//     the job contexts sharing it see: a task holds its Resources while it runs (and lends
//     its CPU while it blocks in Get or Wait, as on Ray), an actor its held resources while
//     it lives; a request for more than the cluster has fails with fray.ErrInfeasible.
//
// Not supported: RuntimeEnv.PackageRequirements (refused with *fray.UnsupportedError).
// Refs nested in values are pinned conservatively: once a payload of a job context carried
// that job's id, Release no longer frees anything in it until Close (backend/doc.go allows
// keeping objects longer; it forbids freeing them early).
//
// The program's main (or TestMain) calls worker.Init first thing, so that the worker
// processes this backend starts serve instead of running main.
package freshproc
