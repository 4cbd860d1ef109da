//go:build !linux

package ray

import (
	"errors"
	"os"
)

// newSharedMemory is Linux-only (memfd); elsewhere values cross through the pipes.
func newSharedMemory(ringSize int) (*sharedMemory, *os.File, error) {
	return nil, nil, errors.New("fray/ray: shared memory with the bridge needs Linux")
}

// readPeer is Linux-only; elsewhere the probe fails and values cross through the pipes.
func readPeer(pid int, dst []byte, addr uint64) error {
	return errors.New("fray/ray: reading the bridge's memory needs Linux")
}
