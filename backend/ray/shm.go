package ray

import (
	"fmt"
	"sync/atomic"
	"unsafe"
)

// Large values cross between the Go driver and the bridge through shared memory instead of
// the pipes: a pipe moves about 2 GB/s here and costs a copy on each side, so a 1 MiB value
// took longer to cross than Ray takes to store it. The shared memory is one memfd (no name
// in any file system) that the bridge inherits as fd 5 and maps, laid out as
//
//	[0, 4096)            header: at 0 the to-bridge ring's freed counter (written by the
//	                     bridge), at 64 the from-bridge ring's (written by Go)
//	[4096, 4096+S)       to-bridge ring: Go allocates, the bridge consumes (Put values)
//	[4096+S, 4096+2S)    from-bridge ring: the bridge allocates, Go consumes (Get answers)
//	[spillOffset(S), …)  the spill: Put values too large for the ring (spill.go); the
//	                     header's word at 128 is its consumed sequence number
//
// Each ring has one producer and one consumer, and values are consumed in the order they
// were allocated (allocation and the frame that names the region happen under the frame
// writer's lock; the consumer reads frames in order). A region is named in a frame by its
// position in the ring's unbounded byte stream; the consumer, once it has copied a value
// out, publishes the end of that region as its freed counter. The producer never writes
// past freed+S, so it never overwrites a value not yet consumed. A value that does not fit
// (too large, or the ring is full) goes through the pipe as before: nothing waits on space.

// shmHeader is the size of the header page.
const shmHeader = 4096

// shmThreshold is the smallest value sent through shared memory; below it the pipe is as
// fast and needs no bookkeeping.
const shmThreshold = 64 << 10

// defaultShmRing is the size of each ring unless Options.SharedMemory says otherwise.
const defaultShmRing = 16 << 20

// ring is one direction of the shared memory.
type ring struct {
	data  []byte
	freed *uint64 // the consumer's counter, in the shared header
	head  uint64  // producer only: the end of the last allocation
}

func newRing(data []byte, freed *uint64) *ring {
	return &ring{data: data, freed: freed}
}

// alloc reserves n bytes and returns their stream position, or false when they do not fit
// now. The caller serialises allocations (the frame writer's lock).
func (r *ring) alloc(n int) (uint64, bool) {
	size := uint64(len(r.data))
	if n <= 0 || uint64(n) > size {
		return 0, false
	}
	pos := (r.head + 63) &^ 63 // cache-line aligned starts
	if off := pos % size; off+uint64(n) > size {
		pos += size - off // wrap: the tail of the ring is skipped
	}
	if pos+uint64(n)-atomic.LoadUint64(r.freed) > size {
		return 0, false
	}
	r.head = pos + uint64(n)
	return pos, true
}

// region returns the bytes at stream position pos, checking that a peer's claim is in range.
func (r *ring) region(pos, n uint64) ([]byte, error) {
	size := uint64(len(r.data))
	off := pos % size
	if n > size || off+n > size {
		return nil, fmt.Errorf("shared-memory region [%d, +%d) is outside the %d-byte ring", pos, n, size)
	}
	return r.data[off : off+n : off+n], nil
}

// release publishes that everything up to end has been consumed.
func (r *ring) release(end uint64) { atomic.StoreUint64(r.freed, end) }

// sharedMemory is the mapping of the memfd and its two rings.
type sharedMemory struct {
	mem    []byte
	toPy   *ring  // Go produces
	fromPy *ring  // the bridge produces
	spill  *spill // Go produces; nil without one
	unmap  func() error
}

func newSharedMemoryOver(mem []byte, ringSize int, unmap func() error) *sharedMemory {
	return &sharedMemory{
		mem:    mem,
		toPy:   newRing(mem[shmHeader:shmHeader+ringSize], shmCounter(mem, 0)),
		fromPy: newRing(mem[shmHeader+ringSize:shmHeader+2*ringSize], shmCounter(mem, 64)),
		unmap:  unmap,
	}
}

// shmCounter is the header's 64-bit word at off.
func shmCounter(mem []byte, off int) *uint64 { return (*uint64)(unsafe.Pointer(&mem[off])) }
