package ray

import (
	"bytes"
	"sync/atomic"
)

// Large values of a Get answer that do not fit in the from-bridge ring (larger than it,
// or it is full) are read by Go straight out of the bridge's memory, where ray.get left
// them (a buffer over Ray's object store, or the bytes Ray made), with one
// process_vm_readv, instead of crossing the pipe (a copy into it, one out, and the
// frame's growth). Values that fit take the ring: its two memcpys, one in each process,
// cost less than one process_vm_readv, which walks the bridge's page tables. Go is the bridge's parent, which the kernel's
// ptrace access rules let read its child's memory; where they do not (a stricter Yama
// setting, a seccomp profile), the probe at connect fails and the ring carries them as
// before. The bridge keeps each such value alive (pinned) until Go has copied it: it
// numbers them in the order it writes the answers, and Go publishes the last number it has
// copied as the shared header's word at 192 once it has read an answer. The Get request
// asks for this with "vm": true (bridgeGet.CrossMemory); an answer names such a value as
// {"v": [address, n, seq]}.

// noCrossMemory turns the cross-memory reads off for the sessions that connect while it
// is set (tests of the ring's Get path).
var noCrossMemory atomic.Bool

// vmPeer is the bridge as a process whose memory Go reads.
type vmPeer struct {
	pid   int
	freed *uint64 // in the shared header: the last pinned value Go has copied
}

// probeCrossMemory reads the probe bytes the bridge reported in its ready message at
// addr and reports whether they are the bytes it said.
func probeCrossMemory(pid int, addr uint64, want []byte) bool {
	if addr == 0 || len(want) == 0 {
		return false
	}
	got := make([]byte, len(want))
	return readPeer(pid, got, addr) == nil && bytes.Equal(got, want)
}

// release publishes that every pinned value up to seq has been copied.
func (p *vmPeer) release(seq uint64) { atomic.StoreUint64(p.freed, seq) }
