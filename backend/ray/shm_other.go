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
