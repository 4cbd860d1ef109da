package ray

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// newSharedMemory creates the memfd the bridge inherits and maps it, with its pages
// populated up front so no value pays for first-touch page faults. The spill (spill.go)
// starts empty and grows on first use.
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
	sp := &spill{freed: shmCounter(mem, 128)}
	off := spillOffset(ringSize)
	// The memfd is duplicated so that the spill can grow after the bridge has started (the
	// caller closes f then).
	sfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		_ = unix.Munmap(mem)
		f.Close()
		return nil, nil, fmt.Errorf("fray/ray: duplicating the shared memory's descriptor: %w", err)
	}
	sp.grow = func(old []byte, n int) ([]byte, error) {
		if err := unix.Ftruncate(sfd, off+int64(n)); err != nil {
			return nil, err
		}
		m, err := unix.Mmap(sfd, off, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err != nil {
			return nil, err
		}
		if old != nil {
			_ = unix.Munmap(old)
		}
		return m, nil
	}
	shm := newSharedMemoryOver(mem, ringSize, nil)
	shm.spill = sp
	shm.unmap = func() error {
		err := unix.Munmap(mem)
		if sp.mem != nil {
			err = errors.Join(err, unix.Munmap(sp.mem))
			sp.mem = nil
		}
		return errors.Join(err, unix.Close(sfd))
	}
	return shm, f, nil
}

// readPeer copies len(dst) bytes at addr in process pid's memory into dst
// (process_vm_readv; see vmread.go).
func readPeer(pid int, dst []byte, addr uint64) error {
	for len(dst) > 0 {
		local := unix.Iovec{Base: &dst[0]}
		local.SetLen(len(dst))
		n, err := unix.ProcessVMReadv(pid, []unix.Iovec{local}, []unix.RemoteIovec{{Base: uintptr(addr), Len: len(dst)}}, 0)
		if err != nil {
			return fmt.Errorf("fray/ray: reading a value from the bridge's memory: %w", err)
		}
		if n <= 0 {
			return errors.New("fray/ray: reading a value from the bridge's memory: no progress")
		}
		dst, addr = dst[n:], addr+uint64(n)
	}
	return nil
}
