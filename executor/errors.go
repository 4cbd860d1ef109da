// Errors of a run: failed steps, steps that failed before, and steps that could not see
// an in-memory prefix.

package executor

import (
	"errors"
	"fmt"
	"strings"
)

// RunError is the error of a run in which steps failed. It wraps each step's error.
type RunError struct {
	Failed    []string         // steps that failed (or had failed before)
	DepFailed []string         // steps not run because a dependency failed
	Errors    map[string]error // by step name
}

// Error names the failed steps, the dependents not run and each failure.
func (e *RunError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "executor: %d step(s) failed: %s", len(e.Failed), strings.Join(e.Failed, ", "))
	if len(e.DepFailed) > 0 {
		fmt.Fprintf(&b, "; %d dependent step(s) not run: %s", len(e.DepFailed), strings.Join(e.DepFailed, ", "))
	}
	for _, n := range e.Failed {
		if err := e.Errors[n]; err != nil {
			fmt.Fprintf(&b, "\n  %s: %v", n, err)
		}
	}
	return b.String()
}

// Unwrap returns the steps' errors.
func (e *RunError) Unwrap() []error {
	out := make([]error, 0, len(e.Failed))
	for _, n := range e.Failed {
		if err := e.Errors[n]; err != nil {
			out = append(out, err)
		}
	}
	return out
}

// ErrFailedPreviously matches a FailedPreviouslyError.
var ErrFailedPreviously = errors.New("executor: step failed previously")

// FailedPreviouslyError refuses a step whose last recorded status is FAILED or DEP_FAILED.
type FailedPreviouslyError struct {
	Step, StatusFile string
	Status           Status
	Message          string
}

// Error names the step, its status file and how to rerun it.
func (e *FailedPreviouslyError) Error() string {
	return fmt.Sprintf("executor: step %s failed previously (status %s in %s: %s); rerun with --force-run-failed (Options.ForceRunFailed) to run it again", e.Step, e.Status, e.StatusFile, e.Message)
}

// Is matches ErrFailedPreviously.
func (e *FailedPreviouslyError) Is(target error) bool { return target == ErrFailedPreviously }

// ErrInMemoryPath matches an InMemoryPathError.
var ErrInMemoryPath = errors.New("executor: a step in a worker process cannot use an in-memory bucket")

// InMemoryPathError refuses, before anything runs, a step that would run in a worker
// process while a path it uses (the prefix, its output, a dependency's output) is in a
// mem:// bucket: an in-memory bucket lives in one process, so the step could not see it
// (reads would fail with "key not found", writes would vanish with the worker).
type InMemoryPathError struct {
	Step    string // the step
	Path    string // the mem:// path it would use
	Backend string // the backend's name
	Reason  string // why the step runs in a worker process
}

// Error says why the step cannot run and what to use instead.
func (e *InMemoryPathError) Error() string {
	return fmt.Sprintf("executor: step %s would run in a worker process of the %s backend (%s), but %s is an in-memory bucket, which only this process can see: use a local directory or a bucket URL for the prefix, or run the step in this process",
		e.Step, e.Backend, e.Reason, e.Path)
}

// Is matches ErrInMemoryPath.
func (e *InMemoryPathError) Is(target error) bool { return target == ErrInMemoryPath }
