package worker

import (
	"runtime"

	"github.com/fray-go/fray"
)

// errNoWorkerProcesses is what Start returns outside unix (sys_nounix.go): worker
// processes speak the protocol over inherited file descriptors 3 and 4.
func errNoWorkerProcesses() error { return errNoWorkerProcessesOn(runtime.GOOS) }

func errNoWorkerProcessesOn(goos string) error {
	return &fray.UnsupportedError{Backend: "worker-process", Feature: "worker processes on " + goos,
		Hint: "they need inherited file descriptors 3 and 4 (Linux or macOS); run tasks in the driver process (no worker-process options), or run the driver on Linux"}
}
