//go:build !linux

package ray

import (
	"os"
	"os/exec"
)

func growPipe(f *os.File) {}

// dieWithParent: without Linux's parent-death signal the bridge still exits when its input
// pipe closes, which happens when this process dies.
func dieWithParent(cmd *exec.Cmd) {}
