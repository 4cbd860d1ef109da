package fray

import (
	"fmt"
	"os"

	"github.com/fray-go/fray/internal/hook"
)

// Init must be the first call in main (and in TestMain of test packages whose tests start
// worker processes). In a process started as a fray worker it serves calls and never
// returns; in a driver it freezes the task registry and returns.
//
// A worker process whose main creates a job context (local.New, ray.Connect) before calling
// Init would become a driver starting workers of its own: the constructor instead makes it
// exit at once, and the driver's call fails with a *WorkerStartError naming Init.
func Init() {
	FreezeRegistry()
	if !hook.IsWorker() {
		return
	}
	if hook.ServeWorker == nil {
		fmt.Fprintln(os.Stderr, "fray: started as a worker but no worker loop is linked in; import a fray backend package")
		os.Exit(70)
	}
	os.Exit(hook.ServeWorker())
}

// IsWorker reports whether this process is a fray worker process.
func IsWorker() bool { return hook.IsWorker() }
