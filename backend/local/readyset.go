package local

import (
	"context"
	"io"
	"sync"

	"github.com/fray-go/fray/backend"
)

// WatchReady (backend.ReadyWatcher) lets fray.AsCompleted learn of each object as it
// completes: the set is registered on every pending object once, and each completion
// hands over its index, so n objects cost O(n) in all. Values are not touched.

var _ backend.ReadyWatcher = (*JobContext)(nil)

// readySet is one WatchReady: completions push the index of their object into ready.
type readySet struct {
	j     *JobContext
	objs  []*object
	ready chan int // capacity len(objs): each index is pushed once, never blocking
	left  int      // indexes not returned by Next yet

	closeOnce sync.Once
}

// setEntry is a readySet registered on an object, with the object's index in it.
type setEntry struct {
	set *readySet
	idx int
}

// WatchReady starts watching ids for readiness.
func (j *JobContext) WatchReady(ctx context.Context, ids []backend.ObjectID) (backend.ReadySet, error) {
	if j.closed.Load() {
		return nil, errClosed
	}
	s := &readySet{j: j, objs: make([]*object, len(ids)), ready: make(chan int, len(ids)), left: len(ids)}
	j.mu.Lock()
	defer j.mu.Unlock()
	for i, id := range ids {
		o, ok := j.objectLocked(id)
		if !ok {
			s.unregisterLocked()
			return nil, unknownObject(id)
		}
		s.objs[i] = o
		if o.done {
			s.ready <- i
			continue
		}
		ow := o.waitList()
		ow.sets = append(ow.sets, setEntry{s, i})
	}
	return s, nil
}

// Next returns the index of the next object to complete.
func (s *readySet) Next(ctx context.Context) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	select {
	case i := <-s.ready:
		s.left--
		return i, nil
	default:
	}
	if t := runningTask(ctx, s.j.c); t != nil {
		defer s.j.c.lendCPU(t)() // a task blocked here lends its CPU, as in Wait
	}
	select {
	case i := <-s.ready:
		s.left--
		return i, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-s.j.closedCh:
		return 0, errClosed
	}
}

// Close unregisters the set from the objects still pending.
func (s *readySet) Close() {
	s.closeOnce.Do(func() {
		s.j.mu.Lock()
		s.unregisterLocked()
		s.j.mu.Unlock()
	})
}

// unregisterLocked removes s from its pending objects' lists; j.mu is held.
func (s *readySet) unregisterLocked() {
	for _, o := range s.objs {
		if o == nil || o.done || o.wait == nil {
			continue
		}
		es := o.wait.sets
		for k, e := range es {
			if e.set == s {
				last := len(es) - 1
				es[k] = es[last]
				es[last] = setEntry{}
				o.wait.sets = es[:last]
				break
			}
		}
	}
}

// ObjectsFetched returns how many object values Get has handed out for this job context so
// far (from the driver and from its worker processes), so that a test can check that an
// operation touched no value: Wait and fray.AsCompleted only look at readiness.
func (j *JobContext) ObjectsFetched() int64 { return j.fetched.Load() }
