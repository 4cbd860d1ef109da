// Get and Put cases: order, first error, deadlines, values, large bytes, refs to tasks and
// immutability.

package fraytest

import (
	"context"
	"crypto/rand"
	"errors"
	"reflect"
	"time"

	"github.com/fray-go/fray"
)

func objectCases() []testCase {
	return []testCase{
		{"GetInputOrder", testGetOrder},
		{"GetFirstErrorInInputOrder", testGetFirstError},
		{"GetCtxDeadlineIsTimeout", testGetDeadline},
		{"GetPastDeadlineButReady", testGetPastDeadlineReady},
		{"GetEmptyAndRepeated", testGetEmptyRepeated},
		{"PutValues", testPutValues},
		{"PutLargeBytes", testPutLarge},
		{"PutRefPassedToTask", testPutRefToTask},
		{"PutIsImmutable", testPutImmutable},
	}
}

// gatedRefs submits n gated tasks returning 0..n-1; gate "g<i>" releases task i.
func gatedRefs(s *env, rec Rec, n int) []fray.Ref[int] {
	s.Helper()
	refs := make([]fray.Ref[int], n)
	for i := range refs {
		gate := gateName(i)
		s.openGateAtCleanup(rec, gate)
		r, err := gatedValue.Remote(s.Ctx, Gated{Rec: rec, GateKey: gate, Value: i})
		s.must(err, "submit gated task")
		refs[i] = r
	}
	return refs
}

func gateName(i int) string { return "g" + string(rune('a'+i)) }

func testGetOrder(s *env) {
	rec := s.recorder()
	refs := gatedRefs(s, rec, 5)
	// Finish them in reverse order, waiting for each, so completion order is 4,3,2,1,0.
	for i := len(refs) - 1; i >= 0; i-- {
		s.incr(rec, gateName(i))
		ready, _, err := fray.Wait(s.Ctx, []fray.AnyRef{refs[i]}, 1, fray.Forever)
		s.must(err, "Wait")
		if len(ready) != 1 {
			s.Fatalf("ref %d not ready after Wait(Forever)", i)
		}
	}
	vs, err := fray.GetAll(s.Ctx, refs)
	s.must(err, "GetAll")
	if !reflect.DeepEqual(vs, []int{0, 1, 2, 3, 4}) {
		s.Fatalf("GetAll = %v, want [0 1 2 3 4] (input order, not completion order)", vs)
	}
}

func testGetFirstError(s *env) {
	rec := s.recorder()
	s.openGateAtCleanup(rec, "gate")
	ok, err := fray.Put(s.Ctx, 1)
	s.must(err, "Put")
	first, err := gatedValue.Remote(s.Ctx, Gated{Rec: rec, GateKey: "gate", Fail: "first in input order"})
	s.must(err, "submit first failure")
	second, err := failWith.Remote(s.Ctx, "second in input order, first to fail")
	s.must(err, "submit second failure")
	// Let the second fail first, then the first.
	if _, _, err := fray.Wait(s.Ctx, []fray.AnyRef{second}, 1, fray.Forever); err != nil {
		s.Fatalf("Wait: %v", err)
	}
	s.incr(rec, "gate")
	_, err = fray.GetAll(s.Ctx, []fray.Ref[int]{ok, first, second})
	s.wantErr(err, fray.ErrTaskFailed, "GetAll with two failures")
	s.wantContains(err, "GetAll error", "first in input order")
}

func testGetDeadline(s *env) {
	rec := s.recorder()
	s.openGateAtCleanup(rec, "gate")
	ref, err := gatedValue.Remote(s.Ctx, Gated{Rec: rec, GateKey: "gate", Value: 7})
	s.must(err, "submit")
	_, err = ref.Get(s.shortCtx(50 * time.Millisecond))
	s.wantErr(err, fray.ErrTimeout, "Get past the ctx deadline")
	if !errors.Is(err, context.DeadlineExceeded) {
		s.Errorf("Get timeout %v does not match context.DeadlineExceeded", err)
	}
	var te *fray.TimeoutError
	if !errors.As(err, &te) {
		s.Errorf("Get timeout %v is not a *fray.TimeoutError", err)
	}
	// The object is unaffected by a timed-out Get.
	s.incr(rec, "gate")
	if v := sub(ref, nil).get(s); v != 7 {
		s.Fatalf("value after a timed-out Get = %d, want 7", v)
	}
}

func testGetPastDeadlineReady(s *env) {
	p, err := fray.Put(s.Ctx, "ready")
	s.must(err, "Put")
	done, err := square.Remote(s.Ctx, 5)
	s.must(err, "submit")
	if _, _, err := fray.Wait(s.Ctx, []fray.AnyRef{done}, 1, fray.Forever); err != nil {
		s.Fatalf("Wait: %v", err)
	}
	past, cancel := context.WithDeadline(s.Ctx, time.Now().Add(-time.Second))
	defer cancel()
	v, err := p.Get(past)
	if err != nil || v != "ready" {
		s.Errorf("Get of a ready Put with a passed deadline = %q, %v; want the value (timeout 0 returns ready objects)", v, err)
	}
	n, err := done.Get(past)
	if err != nil || n != 25 {
		s.Errorf("Get of a finished task with a passed deadline = %d, %v; want 25", n, err)
	}
}

func testGetEmptyRepeated(s *env) {
	vs, err := fray.GetAll(s.Ctx, []fray.Ref[int]{})
	if err != nil || vs == nil || len(vs) != 0 {
		s.Errorf("GetAll(empty) = %v, %v; want an empty slice", vs, err)
	}
	r, err := square.Remote(s.Ctx, 8)
	s.must(err, "submit")
	for i := 0; i < 3; i++ {
		if v := sub(r, nil).get(s); v != 64 {
			s.Fatalf("Get #%d = %d, want 64", i, v)
		}
	}
	vs, err = fray.GetAll(s.Ctx, []fray.Ref[int]{r, r, r})
	if err != nil || !reflect.DeepEqual(vs, []int{64, 64, 64}) {
		s.Errorf("GetAll of one ref three times = %v, %v", vs, err)
	}
}

// PutRecord is a struct value for Put.
type PutRecord struct {
	ID     int
	Labels []string
	Scores map[string]float64
}

func testPutValues(s *env) {
	pi, err := fray.Put(s.Ctx, 42)
	s.must(err, "Put int")
	ps, err := fray.Put(s.Ctx, "héllo, wörld")
	s.must(err, "Put string")
	rec := PutRecord{ID: 3, Labels: []string{"a", "b"}, Scores: map[string]float64{"x": 0.5}}
	pr, err := fray.Put(s.Ctx, rec)
	s.must(err, "Put struct")
	pm, err := fray.Put(s.Ctx, map[string][]int{"k": {1, 2}})
	s.must(err, "Put map")
	if v := sub(pi, nil).get(s); v != 42 {
		s.Errorf("int = %d", v)
	}
	if v := sub(ps, nil).get(s); v != "héllo, wörld" {
		s.Errorf("string = %q", v)
	}
	if v := sub(pr, nil).get(s); !reflect.DeepEqual(v, rec) {
		s.Errorf("struct = %+v, want %+v", v, rec)
	}
	if v := sub(pm, nil).get(s); !reflect.DeepEqual(v, map[string][]int{"k": {1, 2}}) {
		s.Errorf("map = %v", v)
	}
	if pi.ID() == "" || pi.ID() == ps.ID() || pi.JobID() != s.JC.JobID() {
		s.Errorf("Put refs: ids %q %q, job %q; want distinct non-empty ids of job %q", pi.ID(), ps.ID(), pi.JobID(), s.JC.JobID())
	}
}

func testPutLarge(s *env) {
	big := make([]byte, 1<<20)
	_, _ = rand.Read(big)
	want := checksum(big)
	p, err := fray.Put(s.Ctx, big)
	s.must(err, "Put 1 MiB")
	got := sub(p, nil).get(s)
	if len(got) != len(big) || checksum(got) != want {
		s.Fatalf("1 MiB round trip: got %d bytes, checksum mismatch %v", len(got), checksum(got) != want)
	}
	if v := sub(byteChecksum.RemoteRef(s.Ctx, p)).get(s); v != want {
		s.Errorf("checksum computed by a task from the Put ref = %x, want %x", v, want)
	}
	if v := sub(byteLen.Remote(s.Ctx, big)).get(s); v != len(big) {
		s.Errorf("1 MiB by value: task saw %d bytes", v)
	}
}

func testPutRefToTask(s *env) {
	p, err := fray.Put(s.Ctx, 20)
	s.must(err, "Put")
	if v := sub(addOne.RemoteRef(s.Ctx, p)).get(s); v != 21 {
		s.Errorf("addOne(Put ref) = %d, want 21", v)
	}
	got := sub(sumBag.Remote(s.Ctx, RefBag{Refs: []fray.Ref[int]{p, p}})).get(s)
	if got.Sum != 40 {
		s.Errorf("sumBag([put, put]) = %d, want 40", got.Sum)
	}
	h, err := Counter.Create(s.Ctx, 1)
	s.must(err, "create Counter")
	if v := sub(counterAdd.RemoteRef(s.Ctx, h, p)).get(s); v != 21 {
		s.Errorf("Counter.Add(Put ref) = %d, want 21", v)
	}
}

func testPutImmutable(s *env) {
	vals := []int{1, 2, 3}
	p, err := fray.Put(s.Ctx, vals)
	s.must(err, "Put")
	vals[0] = 100
	got := sub(p, nil).get(s)
	if !reflect.DeepEqual(got, []int{1, 2, 3}) {
		s.Fatalf("Put value changed after the caller mutated its slice: %v", got)
	}
	got[1] = 200
	again := sub(p, nil).get(s)
	if !reflect.DeepEqual(again, []int{1, 2, 3}) {
		s.Fatalf("Put value changed after a reader mutated what Get returned: %v", again)
	}
}
