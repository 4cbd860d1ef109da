//go:build unix && !linux

package worker

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func childSetup() error {
	for _, fd := range []int{ChildReadFD, ChildWriteFD} {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			return fmt.Errorf("file descriptor %d is not open (%v); worker processes are started by a fray backend, not by hand", fd, err)
		}
		syscall.CloseOnExec(fd)
	}
	return nil
}

func killGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGKILL) }
