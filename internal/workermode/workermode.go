// Package workermode is worker mode's entry, and the one link from fray.Init to the worker
// loop. A fray worker is the program itself, started again with FRAY_WORKER set; its main
// calls fray.Init (or worker.Init) first thing, which runs Enter:
//
//	fray.Init()    → Enter(nil)             → the loop internal/worker linked (link.go)
//	worker.Init()  → Enter(ServeFromEnv)     → internal/worker's loop, named at the call
//
// Package fray cannot name the loop itself (internal/worker imports fray for the codec and
// the errors), so internal/worker links it here with Link, in one declaration
// (internal/worker/link.go), evaluated when internal/worker is initialized: a binary that
// links internal/worker (every fray backend that starts worker processes does, and so does
// package worker) has a fray.Init that serves. Link is the only thing package
// initialization does here; nothing else in fray registers anything at import time.
package workermode

import (
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/logging"
)

// Env is the environment variable that marks a process started as a fray worker.
const Env = "FRAY_WORKER"

// ExitNoLoop is the exit code of a worker process whose binary links no worker loop.
const ExitNoLoop = 70

// Loop is a worker loop: it serves the parent that started this process (on file
// descriptors 3 and 4) until the parent is done, and returns the process's exit code.
type Loop func() int

// linked is the loop Link installed; nil until then.
var linked atomic.Pointer[Loop]

// IsWorker reports whether this process was started as a fray worker.
func IsWorker() bool { return os.Getenv(Env) != "" }

// Link makes l the loop that fray.Init runs in a worker process. internal/worker calls it
// once, from link.go; a second call panics (two loops would leave which one serves to
// initialization order). The result is only there so that the call can sit in a variable
// declaration.
func Link(l Loop) bool {
	if l == nil || !linked.CompareAndSwap(nil, &l) {
		panic("workermode: Link called twice or with a nil loop; only internal/worker links the worker loop")
	}
	return true
}

// Linked returns the loop Link installed, or nil when none is linked into this binary.
func Linked() Loop {
	if p := linked.Load(); p != nil {
		return *p
	}
	return nil
}

// Enter is fray.Init: it freezes the task registry and sets up logging from the
// environment (FRAY_LOG_LEVEL, FRAY_LOG_FORMAT); then, in a process started as a worker,
// it runs loop (the linked one when loop is nil) and exits the process with its code, so
// it never returns there. In any other process it returns.
func Enter(loop Loop) {
	backend.FreezeRegistry()
	if !IsWorker() {
		logging.InstallFromEnv()
		return
	}
	logging.InstallFromEnv("worker_pid", os.Getpid())
	if loop == nil {
		loop = Linked()
	}
	if loop == nil {
		slog.Error("fray: started as a worker but no worker loop is linked into this binary; import a fray backend package, or call worker.Init instead of fray.Init")
		os.Exit(ExitNoLoop)
	}
	slog.Debug("fray worker serving")
	os.Exit(loop())
}
