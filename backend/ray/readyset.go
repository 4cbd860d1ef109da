package ray

import (
	"context"
	"fmt"
	"io"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/wire"
)

var _ backend.ReadyWatcher = (*JobContext)(nil)

// WatchReady (backend.ReadyWatcher) registers ids with the bridge once; each round then asks
// for what became ready by the watch's id alone, so fray.AsCompleted sends O(n) ids in all
// (the bridge's ray.wait over what is still pending, with fetch_local=False, is Ray's own
// cost per round).
func (j *JobContext) WatchReady(ctx context.Context, ids []backend.ObjectID) (backend.ReadySet, error) {
	if err := j.check(); err != nil {
		return nil, err
	}
	res, err := j.b.result(ctx, typeWatch, bridgeWatch{IDs: wire.IDs(ids)})
	if err != nil {
		return nil, err
	}
	return &readySet{j: j, id: res.ObjectID, n: len(ids), left: len(ids)}, nil
}

// readySet is one watch in the bridge; Next is called by one goroutine (AsCompleted's).
type readySet struct {
	j      *JobContext
	id     string
	buf    []int
	n      int // ids watched
	left   int // not reported yet
	closed bool
}

func (s *readySet) Next(ctx context.Context) (int, error) {
	for len(s.buf) == 0 {
		if s.left == 0 {
			return 0, io.EOF
		}
		f, err := s.j.b.call(ctx, typeWatchNext, bridgeStreamNext{OID: s.id})
		if err != nil {
			return 0, err
		}
		var res watchResult
		if err := f.Decode(&res); err != nil {
			return 0, err
		}
		if res.Err != nil {
			return 0, fray.DecodeError(res.Err)
		}
		if len(res.Indexes) == 0 {
			return 0, fmt.Errorf("fray/ray: the bridge's watch %s ended with %d objects not reported", s.id, s.left)
		}
		for _, i := range res.Indexes {
			if i < 0 || i >= s.n {
				return 0, fmt.Errorf("fray/ray: the bridge's watch %s reported index %d of %d ids", s.id, i, s.n)
			}
		}
		s.buf = res.Indexes
	}
	i := s.buf[0]
	s.buf = s.buf[1:]
	s.left--
	return i, nil
}

func (s *readySet) Close() {
	if !s.closed {
		s.closed = true
		s.j.Release([]backend.ObjectID{backend.ObjectID(s.id)})
	}
}
