package fraytest

import (
	"context"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

// bigValue returns n bytes: a value large enough to live in Ray's shared object store
// rather than inline in the task's reply.
var bigValue = fray.NewTask("fraytest.bigValue", func(_ context.Context, n int) ([]byte, error) {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b, nil
})

// testWaitDoesNotFetch: Wait and AsCompleted report a large task result ready without the
// driver fetching its value (Ray's fetch_local=False); the fetch counter the backend
// declares (Backend.Fetched) does move for the Get that follows, so it would have seen one.
func testWaitDoesNotFetch(s *env) {
	if s.b.Fetched == nil {
		s.Skipf("Backend.Fetched is not set for %s: cannot observe fetches", s.b.Name)
	}
	fetched := func() int64 {
		s.Helper()
		n, err := s.b.Fetched(s.Ctx, s.JC)
		s.must(err, "Backend.Fetched")
		return n
	}
	const size = 8 << 20
	refs := make([]fray.Ref[[]byte], 3)
	for i := range refs {
		r, err := bigValue.Remote(s.Ctx, size+i)
		s.must(err, "submit bigValue")
		refs[i] = r
	}
	before := fetched()
	anys := []fray.AnyRef{refs[0], refs[1], refs[2]}
	ready, pending, err := fray.Wait(s.Ctx, anys, len(anys), backend.Forever)
	s.must(err, "Wait")
	if len(ready) != 3 || len(pending) != 0 {
		s.Fatalf("Wait(all, Forever): %d ready, %d pending", len(ready), len(pending))
	}
	n := 0
	for _, err := range fray.AsCompleted(s.Ctx, refs) {
		s.must(err, "AsCompleted")
		n++
	}
	if n != 3 {
		s.Fatalf("AsCompleted yielded %d refs, want 3", n)
	}
	if after := fetched(); after != before {
		s.Fatalf("Wait and AsCompleted fetched %d object values, want none", after-before)
	}
	v, err := refs[2].Get(s.Ctx)
	s.must(err, "Get")
	if len(v) != size+2 || v[size+1] != byte((size+1)%256) {
		s.Fatalf("Get returned %d bytes", len(v))
	}
	if after := fetched(); after != before+1 {
		s.Fatalf("the fetch counter moved by %d for one Get, want 1 (it cannot see fetches)", after-before)
	}
}
