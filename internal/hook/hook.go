// Package hook connects fray.Init to the worker loop without an import cycle: the worker
// package (imported by every backend that starts worker processes) sets ServeWorker in its
// init function, and fray.Init calls it when the process was started as a worker.
//
//	// in internal/worker:
//	func init() { hook.ServeWorker = serveFromEnv }
//
//	// in fray.Init:
//	if hook.IsWorker() { os.Exit(hook.ServeWorker()) }
package hook

import "os"

// WorkerEnv is the environment variable that marks a process started as a fray worker.
const WorkerEnv = "FRAY_WORKER"

// ServeWorker runs the worker loop and returns the process exit code. Nil until a package
// that can serve workers is linked in.
var ServeWorker func() int

// IsWorker reports whether this process was started as a fray worker.
func IsWorker() bool { return os.Getenv(WorkerEnv) != "" }
