// Cancel cases: a queued task, a running one, a race with its own return, a finished one.

package fraytest

import (
	"errors"
	"fmt"

	"github.com/fray-go/fray"
)

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
