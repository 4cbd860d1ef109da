//go:build linux

package worker

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// sysProcAttr starts the worker in its own process group (so killing the group kills what
// the worker started too) and has the kernel SIGKILL it if the parent dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// childSetup runs in the worker: the protocol fds must not leak into commands a task
// starts (a grandchild holding fd 4 would hide the worker's death from the parent), and the
// worker asks to be killed when its parent dies, whoever started it (the Python shim too).
func childSetup() error {
	for _, fd := range []int{ChildReadFD, ChildWriteFD} {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			return fmt.Errorf("file descriptor %d is not open (%v); worker processes are started by a fray backend, not by hand", fd, err)
		}
		syscall.CloseOnExec(fd)
	}
	return unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
}

// killGroup SIGKILLs the process group led by pid.
func killGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGKILL) }
