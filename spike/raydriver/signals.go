package main

// Go owns the process's signals. Py_InitializeEx(0) installs no handlers, but ray.init
// does: Python's SIGTERM handler (ray.init sets one when called on Python's main thread)
// and, in Ray's C++ core worker, abseil's failure signal handler for SIGSEGV, SIGBUS,
// SIGFPE, SIGILL, SIGABRT and SIGTERM, which breaks Go's nil-dereference panics (checks).
// (RAY_DISABLE_FAILURE_SIGNAL_HANDLER=1 in the environment did not keep them away.)
// saveSignals before and restore after ray.init put back whatever was replaced, exactly as
// the Go runtime had set it (handler, flags, restorer, mask).

import (
	"syscall"
	"unsafe"
)

// kernelSigaction is the kernel's struct sigaction on linux/amd64.
type kernelSigaction struct {
	handler, flags, restorer, mask uintptr
}

type sigState map[syscall.Signal]kernelSigaction

func saveSignals() sigState {
	s := sigState{}
	for sig := syscall.Signal(1); sig < 65; sig++ {
		if sig == syscall.SIGKILL || sig == syscall.SIGSTOP {
			continue
		}
		var old kernelSigaction
		if _, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&old)), 8, 0, 0); e == 0 {
			s[sig] = old
		}
	}
	return s
}

// restore puts back every action that differs from the saved one and returns which.
func (s sigState) restore() []syscall.Signal {
	var n []syscall.Signal
	for sig, want := range s {
		var cur kernelSigaction
		syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&cur)), 8, 0, 0)
		if cur != want {
			syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&want)), 0, 8, 0, 0)
			n = append(n, sig)
		}
	}
	return n
}
