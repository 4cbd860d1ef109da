package fraytest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
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

func waitCases() []testCase {
	return []testCase{
		{"EmptyGivesTwoEmpty", testWaitEmpty},
		{"DuplicatesRejected", testWaitDuplicates},
		{"NumReturnsOutOfRange", testWaitNumReturns},
		{"NegativeTimeoutRejected", testWaitNegativeTimeout},
		{"TimeoutZeroPolls", testWaitPoll},
		{"FailedCountsAsReady", testWaitFailedReady},
		{"AtMostNumReturnsReady", testWaitAtMost},
		{"MixedTypes", testWaitMixed},
		{"ReadyAndPendingInInputOrder", testWaitOrder},
		{"TimeoutReturnsPending", testWaitTimeout},
		{"CtxDeadlineIsTimeout", testWaitCtxDeadline},
		{"AsCompletedYieldsEachOnce", testAsCompletedAll},
		{"AsCompletedDoneCtxIsError", testAsCompletedDoneCtx},
		{"DoesNotFetch", testWaitDoesNotFetch},
	}
}

func testWaitEmpty(s *env) {
	ready, pending, err := fray.Wait(s.Ctx, nil, 1, 0)
	if err != nil || ready == nil || pending == nil || len(ready)+len(pending) != 0 {
		s.Fatalf("Wait(empty) = %v, %v, %v; want two empty lists and no error", ready, pending, err)
	}
}

func testWaitDuplicates(s *env) {
	r, err := square.Remote(s.Ctx, 2)
	s.must(err, "submit")
	_, _, err = fray.Wait(s.Ctx, []fray.AnyRef{r, r}, 1, 0)
	s.wantErr(err, fray.ErrInvalidArgument, "Wait with a duplicate ref")
}

func testWaitNumReturns(s *env) {
	a, err := fray.Put(s.Ctx, 1)
	s.must(err, "Put")
	b, err := fray.Put(s.Ctx, 2)
	s.must(err, "Put")
	for _, n := range []int{0, -1, 3} {
		_, _, err = fray.Wait(s.Ctx, []fray.AnyRef{a, b}, n, 0)
		s.wantErr(err, fray.ErrInvalidArgument, "Wait numReturns out of 1..2")
	}
}

func testWaitNegativeTimeout(s *env) {
	a, err := fray.Put(s.Ctx, 1)
	s.must(err, "Put")
	_, _, err = fray.Wait(s.Ctx, []fray.AnyRef{a}, 1, -time.Second)
	s.wantErr(err, fray.ErrInvalidArgument, "Wait with a negative timeout")
}

func testWaitPoll(s *env) {
	rec := s.recorder()
	s.openGateAtCleanup(rec, "gate")
	blocked, err := gatedValue.Remote(s.Ctx, Gated{Rec: rec, GateKey: "gate"})
	s.must(err, "submit")
	done, err := fray.Put(s.Ctx, 1)
	s.must(err, "Put")
	ready, pending, err := fray.Wait(s.Ctx, []fray.AnyRef{blocked, done}, 2, 0)
	s.must(err, "Wait(timeout 0)")
	if len(ready) != 1 || ready[0].ID() != done.ID() || len(pending) != 1 || pending[0].ID() != blocked.ID() {
		s.Fatalf("Wait(timeout 0) = ready %v pending %v; want ready [put] pending [blocked]", ids(ready), ids(pending))
	}
}

func testWaitFailedReady(s *env) {
	f, err := failWith.Remote(s.Ctx, "failed but done")
	s.must(err, "submit")
	ready, pending, err := fray.Wait(s.Ctx, []fray.AnyRef{f}, 1, fray.Forever)
	s.must(err, "Wait")
	if len(ready) != 1 || len(pending) != 0 {
		s.Fatalf("a failed task is not ready: ready %v pending %v", ids(ready), ids(pending))
	}
	_, err = f.Get(s.Ctx)
	s.wantErr(err, fray.ErrTaskFailed, "Get of the ready failed task")
}

func testWaitAtMost(s *env) {
	var refs []fray.AnyRef
	for i := 0; i < 5; i++ {
		r, err := fray.Put(s.Ctx, i)
		s.must(err, "Put")
		refs = append(refs, r)
	}
	ready, pending, err := fray.Wait(s.Ctx, refs, 2, fray.Forever)
	s.must(err, "Wait")
	if !reflect.DeepEqual(ids(ready), ids(refs[:2])) || !reflect.DeepEqual(ids(pending), ids(refs[2:])) {
		s.Fatalf("Wait(5 ready, numReturns 2) = ready %v pending %v; want the first two ready and the rest pending, in input order",
			ids(ready), ids(pending))
	}
}

func testWaitMixed(s *env) {
	i, err := fray.Put(s.Ctx, 1)
	s.must(err, "Put int")
	str, err := fray.Put(s.Ctx, "two")
	s.must(err, "Put string")
	sq, err := square.Remote(s.Ctx, 3)
	s.must(err, "submit")
	rec, err := echoRecord.Remote(s.Ctx, Record{Name: "r"})
	s.must(err, "submit record")
	all := []fray.AnyRef{i, str, sq, rec}
	ready, pending, err := fray.Wait(s.Ctx, all, 4, fray.Forever)
	s.must(err, "Wait")
	if len(ready) != 4 || len(pending) != 0 {
		s.Fatalf("Wait over mixed types: ready %v pending %v", ids(ready), ids(pending))
	}
	if r, ok := ready[1].(fray.Ref[string]); !ok {
		s.Errorf("ready[1] is %T, want fray.Ref[string] (Wait returns the refs it was given)", ready[1])
	} else if v := sub(r, nil).get(s); v != "two" {
		s.Errorf("string ref = %q", v)
	}
	if r, ok := ready[3].(fray.Ref[Summary]); !ok {
		s.Errorf("ready[3] is %T, want fray.Ref[Summary]", ready[3])
	} else if v := sub(r, nil).get(s); v.Name != "r" {
		s.Errorf("record ref = %+v", v)
	}
}

func testWaitOrder(s *env) {
	rec := s.recorder()
	s.openGateAtCleanup(rec, "gate")
	b0, err := gatedValue.Remote(s.Ctx, Gated{Rec: rec, GateKey: "gate"})
	s.must(err, "submit")
	r1, err := fray.Put(s.Ctx, 1)
	s.must(err, "Put")
	b2, err := gatedValue.Remote(s.Ctx, Gated{Rec: rec, GateKey: "gate"})
	s.must(err, "submit")
	r3, err := square.Remote(s.Ctx, 3)
	s.must(err, "submit")
	all := []fray.AnyRef{b0, r1, b2, r3}
	ready, pending, err := fray.Wait(s.Ctx, all, 2, fray.Forever)
	s.must(err, "Wait")
	want := [][]backend.ObjectID{{r1.ID(), r3.ID()}, {b0.ID(), b2.ID()}}
	if !reflect.DeepEqual([][]backend.ObjectID{ids(ready), ids(pending)}, want) {
		s.Fatalf("Wait = ready %v pending %v; want ready %v pending %v (both in input order)",
			ids(ready), ids(pending), want[0], want[1])
	}
}

func testWaitTimeout(s *env) {
	rec := s.recorder()
	s.openGateAtCleanup(rec, "gate")
	b, err := gatedValue.Remote(s.Ctx, Gated{Rec: rec, GateKey: "gate"})
	s.must(err, "submit")
	ready, pending, err := fray.Wait(s.Ctx, []fray.AnyRef{b}, 1, 20*time.Millisecond)
	s.must(err, "Wait with a timeout is not an error")
	if len(ready) != 0 || len(pending) != 1 {
		s.Fatalf("Wait(timeout) on a blocked task = ready %v pending %v", ids(ready), ids(pending))
	}
}

func testWaitCtxDeadline(s *env) {
	rec := s.recorder()
	s.openGateAtCleanup(rec, "gate")
	b, err := gatedValue.Remote(s.Ctx, Gated{Rec: rec, GateKey: "gate"})
	s.must(err, "submit")
	_, _, err = fray.Wait(s.shortCtx(30*time.Millisecond), []fray.AnyRef{b}, 1, fray.Forever)
	s.wantErr(err, fray.ErrTimeout, "Wait past the ctx deadline")
	if !errors.Is(err, context.DeadlineExceeded) {
		s.Errorf("Wait timeout %v does not match context.DeadlineExceeded", err)
	}
}

func ids(refs []fray.AnyRef) []backend.ObjectID {
	out := make([]backend.ObjectID, len(refs))
	for i, r := range refs {
		out[i] = r.ID()
	}
	return out
}

func cancelCases() []testCase {
	return []testCase{
		{"QueuedTaskNeverRuns", testCancelQueued},
		{"RunningTaskCtxCancelled", testCancelRunning},
		{"CancelWinsOverTheTasksOwnReturn", testCancelResultRace},
		{"FinishedTaskUnaffected", testCancelFinished},
	}
}

func testCancelQueued(s *env) {
	rec := s.recorder()
	s.openGateAtCleanup(rec, "gate")
	widget, capacity := s.scarce()
	all := fray.TaskOptions{Resources: fray.Resources{widget: float64(capacity)}}
	holder, err := holdOrObserve.Remote(s.Ctx, Holder{Rec: rec, Key: "w", GateKey: "gate"}, all)
	s.must(err, "submit holder")
	s.await(rec, "w.holding", 1)
	queued, err := countRun.Remote(s.Ctx, Stage{Rec: rec, Key: "queued.runs"}, all)
	s.must(err, "submit queued task")
	s.must(fray.Cancel(s.Ctx, queued, false), "Cancel")
	s.incr(rec, "gate")
	sub(holder, nil).get(s)
	_, err = queued.Get(s.Ctx)
	s.wantErr(err, fray.ErrCancelled, "Get of a cancelled queued task")
	var ce *fray.CancelledError
	if !errors.As(err, &ce) {
		s.Errorf("%v is not a *fray.CancelledError", err)
	}
	// A later task needing the same resources runs; the cancelled one must still never run.
	if v := sub(countRun.Remote(s.Ctx, Stage{Rec: rec, Key: "later.runs"}, all)).get(s); v != 1 {
		s.Errorf("later task count = %d", v)
	}
	if n := s.count(rec, "queued.runs"); n != 0 {
		s.Errorf("the cancelled queued task ran %d times", n)
	}
}

func testCancelRunning(s *env) {
	rec := s.recorder()
	ref, err := waitForCancel.Remote(s.Ctx, Cancellable{Rec: rec, StartKey: "start", DoneKey: "done"},
		fray.TaskOptions{MaxRetries: fray.Retries(3), RetryExceptions: true})
	s.must(err, "submit")
	s.await(rec, "start", 1)
	s.must(fray.Cancel(s.Ctx, ref, false), "Cancel")
	_, err = ref.Get(s.Ctx)
	s.wantErr(err, fray.ErrCancelled, "Get of a cancelled running task")
	// The task saw its ctx cancelled (it reports after its ctx is done).
	s.await(rec, "done", 1)
	// Cancelled tasks are never retried, even with RetryExceptions.
	if n := s.count(rec, "start"); n != 1 {
		s.Errorf("the cancelled task started %d times; cancelled tasks must not be retried", n)
	}
}

// testCancelResultRace: a task that returns ctx.Err() the moment it is cancelled still
// reports as cancelled, not as a TaskError: the backend must settle the result as cancelled
// no later than it cancels the task's ctx. Repeated, since a wrong order loses only a race.
func testCancelResultRace(s *env) {
	rec := s.recorder()
	for i := 0; i < 25; i++ {
		key := fmt.Sprintf("start%d", i)
		ref, err := waitForCancel.Remote(s.Ctx, Cancellable{Rec: rec, StartKey: key},
			fray.TaskOptions{MaxRetries: fray.Retries(3), RetryExceptions: true})
		s.must(err, "submit")
		s.await(rec, key, 1)
		s.must(fray.Cancel(s.Ctx, ref, false), "Cancel")
		_, err = ref.Get(s.Ctx)
		if !errors.Is(err, fray.ErrCancelled) {
			s.Fatalf("round %d: Get of a cancelled task that returned ctx.Err() at once = %v (%T), want fray.ErrCancelled", i, err, err)
		}
	}
}

func testCancelFinished(s *env) {
	r, err := square.Remote(s.Ctx, 11)
	s.must(err, "submit")
	if v := sub(r, nil).get(s); v != 121 {
		s.Fatalf("square(11) = %d", v)
	}
	s.must(fray.Cancel(s.Ctx, r, false), "Cancel of a finished task")
	if v := sub(r, nil).get(s); v != 121 {
		s.Fatalf("after Cancel of a finished task, Get = %d, want 121", v)
	}
}

func testAsCompletedAll(s *env) {
	var refs []fray.Ref[int]
	want := map[backend.ObjectID]bool{}
	for i := 1; i <= 4; i++ {
		r, err := square.Remote(s.Ctx, i)
		s.must(err, "submit")
		refs = append(refs, r)
		want[r.ID()] = true
	}
	got := map[backend.ObjectID]bool{}
	for r, err := range fray.AsCompleted(s.Ctx, refs) {
		s.must(err, "AsCompleted")
		if got[r.ID()] || !want[r.ID()] {
			s.Fatalf("AsCompleted yielded %s twice or a ref it was not given", r.ID())
		}
		got[r.ID()] = true
	}
	if len(got) != len(want) {
		s.Fatalf("AsCompleted yielded %d refs, want %d", len(got), len(want))
	}
}

func testAsCompletedDoneCtx(s *env) {
	r, err := square.Remote(s.Ctx, 3)
	s.must(err, "submit")
	done, cancel := context.WithCancel(s.Ctx)
	cancel()
	n, errs := 0, 0
	for _, err := range fray.AsCompleted(done, []fray.Ref[int]{r}) {
		n++
		if err != nil {
			errs++
		}
	}
	if n != 1 || errs != 1 {
		s.Fatalf("AsCompleted with a done ctx yielded %d values, %d errors; want exactly one error", n, errs)
	}
}
