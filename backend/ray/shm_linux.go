package ray

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// newSharedMemory creates the memfd the bridge inherits and maps it, with its pages
// populated up front so no value pays for first-touch page faults.
func newSharedMemory(ringSize int) (*sharedMemory, *os.File, error) {
	fd, err := unix.MemfdCreate("fray-bridge", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, nil, fmt.Errorf("fray/ray: memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "fray-bridge-shm")
	total := shmHeader + 2*ringSize
	if err := unix.Ftruncate(fd, int64(total)); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("fray/ray: sizing shared memory: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, total, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("fray/ray: mapping shared memory: %w", err)
	}
	return newSharedMemoryOver(mem, ringSize, func() error { return unix.Munmap(mem) }), f, nil
}
