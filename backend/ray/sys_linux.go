package ray

import (
	"os"
	"os/exec"
	"syscall"
)

// fSetPipeSize is F_SETPIPE_SZ.
const fSetPipeSize = 1031

// pipeSize is what growPipe asks for: the default maximum for unprivileged processes, so a
// 1 MiB value crosses in one write instead of sixteen 64 KiB rounds.
const pipeSize = 1 << 20

// growPipe enlarges a pipe's buffer; failure only costs speed.
func growPipe(f *os.File) {
	_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), fSetPipeSize, pipeSize)
}

// dieWithParent makes the bridge get SIGKILL when this process dies.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
