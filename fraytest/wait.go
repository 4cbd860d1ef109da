// Wait and AsCompleted cases: argument checks, readiness, order, timeouts and deadlines.

package fraytest

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

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
