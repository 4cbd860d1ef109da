// Package osproc holds the few process calls fray needs that only some systems have
// (signals to a pid, getrusage), behind one signature on every OS, so that the packages
// and tests using them build everywhere: where a call is missing it returns an error
// matching ErrUnsupported, naming the OS.
package osproc

import (
	"errors"
	"runtime"
	"time"
)

// ErrUnsupported is matched (errors.Is) by the error of a call this OS lacks.
var ErrUnsupported = errors.ErrUnsupported

// UnsupportedError is the error of a call this OS lacks.
type UnsupportedError struct {
	Call string // "kill", "getrusage"
	OS   string // runtime.GOOS
}

func (e *UnsupportedError) Error() string {
	return "fray: " + e.Call + " is not supported on " + e.OS + "; it needs a unix system (Linux or macOS)"
}

// Is matches ErrUnsupported.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

func unsupported(call string) error { return &UnsupportedError{Call: call, OS: runtime.GOOS} }

// Usage is what getrusage reports, for this process and its waited-for children.
type Usage struct {
	CPU         time.Duration // user + system CPU time of this process
	ChildrenCPU time.Duration // the same, of its children that have been waited for
	MaxRSS      int64         // peak resident set size of this process (KiB on Linux, bytes on macOS)
}
