//go:build unix

package osproc

import (
	"syscall"
	"time"
)

// Kill sends sig to process pid (a negative pid: to its process group); sig 0 checks that
// the process exists (syscall.ESRCH when it does not).
func Kill(pid int, sig syscall.Signal) error { return syscall.Kill(pid, sig) }

// Rusage reports this process's resource usage.
func Rusage() (Usage, error) {
	var self, kids syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &self); err != nil {
		return Usage{}, err
	}
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids); err != nil {
		return Usage{}, err
	}
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return Usage{CPU: tv(self.Utime) + tv(self.Stime), ChildrenCPU: tv(kids.Utime) + tv(kids.Stime),
		MaxRSS: int64(self.Maxrss)}, nil
}
