package ray

import "sync/atomic"

// A Put value too large for the to-bridge ring (or one that finds the ring full) crosses
// through the spill instead of the pipe: a region of the same memfd after the two rings,
// at spillOffset (the hello message's "sxo"), which Go grows with ftruncate to fit the
// largest such value so far and maps; the bridge maps what the memfd holds beyond that
// offset when a value needs more than it has mapped. One value at a time: Go writes a
// value, names it in a Put frame as {"sx": [seq, n]}, and writes no other until the bridge
// has published seq as consumed (the header's word at 128) after ray.put copied it into
// the object store. A value that finds the spill busy takes the pipe: nothing waits. The
// spill keeps its size for the session (see Options.SharedMemory).

// spillOffset is where the spill starts in the memfd: after the rings, page aligned.
func spillOffset(ringSize int) int64 {
	return int64(shmHeader+2*ringSize+shmHeader-1) &^ (shmHeader - 1)
}

// spillGrain rounds the spill's size up, so that values of similar sizes share a mapping.
const spillGrain = 1 << 20

// spill is Go's (the producer's) side of the spill.
type spill struct {
	mem   []byte  // the current mapping; its length is the spill's size
	seq   uint64  // the last value written
	freed *uint64 // in the shared header: the last value the bridge consumed
	// grow resizes the spill to at least n bytes and returns the new mapping (the old one
	// is unmapped; the bridge no longer reads it, as it consumed every value).
	grow func(old []byte, n int) ([]byte, error)
}

// take returns room for n bytes and the value's sequence number, or false when the spill
// is still busy or cannot grow. The caller serialises takes (the frame writer's lock).
func (s *spill) take(n int) ([]byte, uint64, bool) {
	if atomic.LoadUint64(s.freed) != s.seq {
		return nil, 0, false
	}
	if len(s.mem) < n {
		m, err := s.grow(s.mem, (n+spillGrain-1)/spillGrain*spillGrain)
		if err != nil {
			return nil, 0, false
		}
		s.mem = m
	}
	s.seq++
	return s.mem[:n:n], s.seq, true
}
