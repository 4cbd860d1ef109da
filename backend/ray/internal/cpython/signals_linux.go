//go:build linux && (amd64 || arm64)

package cpython

import (
	"syscall"
	"unsafe"
)

// kernelSigaction is the kernel's struct sigaction on linux/amd64 and linux/arm64.
type kernelSigaction struct {
	handler, flags, restorer, mask uintptr
}

// Signals is every signal's action as the kernel had it when SaveSignals ran.
//
// Go owns the process's signals: Py_InitializeEx(0) installs no handlers, but Ray's init
// does (Python's SIGTERM handler, and the C++ core worker's failure-signal handler for
// SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT and SIGTERM, which breaks Go's nil-dereference
// panics). Save before, Restore after, and Go's handlers are back exactly as they were.
type Signals map[syscall.Signal]kernelSigaction

// SaveSignals records the current action of every signal.
func SaveSignals() Signals {
	s := Signals{}
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

// Restore puts back every action that changed since SaveSignals and returns which.
func (s Signals) Restore() []syscall.Signal {
	var changed []syscall.Signal
	for sig, want := range s {
		var cur kernelSigaction
		syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&cur)), 8, 0, 0)
		if cur != want {
			syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&want)), 0, 8, 0, 0)
			changed = append(changed, sig)
		}
	}
	return changed
}
