// Actor cases: state, per-caller order, concurrency, failures, kill and restart, call
// retries, and handles passed to tasks and actors.

package fraytest

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fray-go/fray"
)

func actorCases() []testCase {
	return []testCase{
		{"StateAndMethods", testActorState},
		{"FIFOPerCaller", testActorFIFO},
		{"MaxConcurrencyRunsCallsAtOnce", testActorConcurrency},
		{"PanicFailsCallKeepsState", testActorPanic},
		{"MethodErrorIsTaskError", testActorMethodError},
		{"ConstructorFailureIsActorDied", testActorCtorFailure},
		{"KillFailsPendingAndFutureCalls", testActorKill},
		{"KillWithRestartRerunsConstructor", testActorRestart},
		{"MaxTaskRetriesRunsCutShortCallsAgain", testActorTaskRetries},
		{"HandlePassedToTask", testActorHandleToTask},
		{"HandlePassedToActor", testActorHandleToActor},
		{"MethodOfAnotherClassRejected", testActorWrongClass},
		{"CreatedInsideTask", testActorInTask},
		{"FailedRefArgumentSkipsCall", testActorFailedRefArg},
	}
}

func testActorState(s *env) {
	h, err := Counter.Create(s.Ctx, 10)
	s.must(err, "create Counter")
	if h.IsZero() || h.ID() == "" {
		s.Fatal("Create returned a zero handle")
	}
	for _, step := range []struct{ add, want int }{{5, 15}, {2, 17}, {-7, 10}} {
		if v, err := counterAdd.Call(s.Ctx, h, step.add); err != nil || v != step.want {
			s.Fatalf("Add(%d) = %d, %v; want %d", step.add, v, err, step.want)
		}
	}
	if v, err := counterValue.Call(s.Ctx, h, struct{}{}); err != nil || v != 10 {
		s.Fatalf("Value = %d, %v; want 10", v, err)
	}
	// Two actors of one class have separate state.
	h2, err := Counter.Create(s.Ctx, 100)
	s.must(err, "create second Counter")
	if h2.ID() == h.ID() {
		s.Fatal("two actors share an id")
	}
	if v, err := counterAdd.Call(s.Ctx, h2, 1); err != nil || v != 101 {
		s.Fatalf("second Counter Add = %d, %v; want 101", v, err)
	}
	if v, err := counterValue.Call(s.Ctx, h, struct{}{}); err != nil || v != 10 {
		s.Fatalf("first Counter changed to %d (%v) by a call to the second", v, err)
	}
}

func testActorFIFO(s *env) {
	h, err := Counter.Create(s.Ctx, 0)
	s.must(err, "create Counter")
	const n = 200
	refs := make([]fray.Ref[int], n)
	for i := range refs {
		r, err := counterAppend.Remote(s.Ctx, h, i)
		s.must(err, "submit Append")
		refs[i] = r
	}
	lens, err := fray.GetAll(s.Ctx, refs)
	s.must(err, "GetAll")
	for i, l := range lens {
		if l != i+1 {
			s.Fatalf("call %d saw log length %d, want %d: calls from one caller must run in submission order", i, l, i+1)
		}
	}
	log, err := counterLog.Call(s.Ctx, h, struct{}{})
	s.must(err, "Log")
	for i, x := range log {
		if x != i {
			s.Fatalf("log[%d] = %d: calls ran out of submission order", i, x)
		}
	}
	if len(log) != n {
		s.Fatalf("log has %d entries, want %d", len(log), n)
	}
}

func testActorConcurrency(s *env) {
	const n = 4
	h, err := Counter.Create(s.Ctx, 0, fray.ActorOptions{MaxConcurrency: n})
	s.must(err, "create Counter with MaxConcurrency")
	// Each Arrive blocks until n calls are inside the actor at once: this can only finish
	// when the actor really runs n calls concurrently.
	refs := make([]fray.Ref[int], n)
	for i := range refs {
		r, err := counterArrive.Remote(s.Ctx, h, n)
		s.must(err, "submit Arrive")
		refs[i] = r
	}
	vs, err := fray.GetAll(s.Ctx, refs)
	s.must(err, fmt.Sprintf("%d concurrent calls to an actor with MaxConcurrency %d", n, n))
	for _, v := range vs {
		if v < n {
			s.Errorf("Arrive returned %d, want >= %d", v, n)
		}
	}
}

func testActorPanic(s *env) {
	h, err := Counter.Create(s.Ctx, 0)
	s.must(err, "create Counter")
	if _, err := counterAdd.Call(s.Ctx, h, 5); err != nil {
		s.Fatalf("Add: %v", err)
	}
	_, err = counterPanic.Call(s.Ctx, h, "in a method")
	s.wantErr(err, fray.ErrTaskFailed, "panicking method")
	var te *fray.TaskError
	if !errors.As(err, &te) || !te.Panic {
		s.Fatalf("panicking method error %v is not a *fray.TaskError with Panic set", err)
	}
	if te.Task != counterPanic.Name() {
		s.Errorf("TaskError.Task = %q, want %q", te.Task, counterPanic.Name())
	}
	if !strings.Contains(te.Stack, "panickingMethod") {
		s.Errorf("remote stack does not name the panicking method:\n%s", te.Stack)
	}
	if v, err := counterAdd.Call(s.Ctx, h, 1); err != nil || v != 6 {
		s.Fatalf("after a panicking call, Add(1) = %d, %v; want 6 (the actor keeps its state)", v, err)
	}
}

func testActorMethodError(s *env) {
	h, err := Counter.Create(s.Ctx, 3)
	s.must(err, "create Counter")
	_, err = counterFail.Call(s.Ctx, h, "method said no")
	s.wantErr(err, fray.ErrTaskFailed, "failing method")
	var te *fray.TaskError
	if !errors.As(err, &te) || te.Message != "method said no" || te.Task != counterFail.Name() || te.Panic {
		s.Fatalf("failing method: got %#v, want a TaskError for %s with the message", err, counterFail.Name())
	}
	if errors.Is(err, fray.ErrActorDied) {
		s.Error("a method error must not report the actor as dead")
	}
	if v, err := counterValue.Call(s.Ctx, h, struct{}{}); err != nil || v != 3 {
		s.Fatalf("after a failing call, Value = %d, %v; want 3", v, err)
	}
}

func testActorCtorFailure(s *env) {
	h, err := FailingCtor.Create(s.Ctx, "constructor refused: bad config")
	if err == nil {
		err = sub(failingCtorPing.Remote(s.Ctx, h, struct{}{})).outcome(s)
	}
	s.wantErr(err, fray.ErrActorDied, "actor whose constructor failed")
	s.wantContains(err, "message", "constructor refused: bad config")
	var ad *fray.ActorDiedError
	if !errors.As(err, &ad) {
		s.Errorf("%v is not a *fray.ActorDiedError", err)
	}
	if h.IsZero() {
		return
	}
	// Every later call fails the same way.
	err = sub(failingCtorPing.Remote(s.Ctx, h, struct{}{})).outcome(s)
	s.wantErr(err, fray.ErrActorDied, "second call to the dead actor")
}

func testActorKill(s *env) {
	rec := s.recorder()
	s.openGateAtCleanup(rec, "gate")
	h, err := Counter.Create(s.Ctx, 0)
	s.must(err, "create Counter")
	running, err := counterBlock.Remote(s.Ctx, h, Gated{Rec: rec, StartKey: "start", GateKey: "gate"})
	s.must(err, "submit blocking call")
	s.await(rec, "start", 1)
	pending, err := counterAdd.Remote(s.Ctx, h, 1)
	s.must(err, "submit queued call")
	s.must(h.Kill(s.Ctx), "Kill")
	_, err = pending.Get(s.Ctx)
	s.wantErr(err, fray.ErrActorDied, "queued call of a killed actor")
	_, err = running.Get(s.Ctx)
	s.wantErr(err, fray.ErrActorDied, "running call of a killed actor")
	err = sub(counterAdd.Remote(s.Ctx, h, 1)).outcome(s)
	s.wantErr(err, fray.ErrActorDied, "call after Kill")
	// Killing twice is harmless.
	if err := h.Kill(s.Ctx); err != nil && !errors.Is(err, fray.ErrActorDied) {
		s.Errorf("second Kill: %v", err)
	}
}

// afterRestart calls Add until the restarted actor answers: on Ray a call made while the
// actor restarts may fail with an actor-died (unavailable) error.
func afterRestart(s *env, h fray.ActorHandle[CounterState], d int) int {
	s.Helper()
	for {
		v, err := counterAdd.Call(s.Ctx, h, d)
		if err == nil {
			return v
		}
		if !errors.Is(err, fray.ErrActorDied) || s.Ctx.Err() != nil {
			s.Fatalf("Add after the restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Killing with AllowRestart re-runs the constructor (state lost); the calls cut short fail
// (at-most-once: MaxTaskRetries 0); once the restarts are used up, the actor dies for good.
func testActorRestart(s *env) {
	rec := s.recorder()
	s.openGateAtCleanup(rec, "gate")
	h, err := Counter.Create(s.Ctx, 0, fray.ActorOptions{MaxRestarts: 1})
	s.must(err, "create Counter")
	if v := sub(counterAdd.Remote(s.Ctx, h, 5)).get(s); v != 5 {
		s.Fatalf("Add(5) = %d", v)
	}
	running, err := counterBlock.Remote(s.Ctx, h, Gated{Rec: rec, StartKey: "start", GateKey: "gate"})
	s.must(err, "submit blocking call")
	s.await(rec, "start", 1)
	pending, err := counterAdd.Remote(s.Ctx, h, 1)
	s.must(err, "submit queued call")
	s.must(h.Kill(s.Ctx, fray.KillOptions{AllowRestart: true}), "Kill with AllowRestart")
	_, err = running.Get(s.Ctx)
	s.wantErr(err, fray.ErrActorDied, "running call of a restarted actor without MaxTaskRetries")
	_, err = pending.Get(s.Ctx)
	s.wantErr(err, fray.ErrActorDied, "queued call of a restarted actor without MaxTaskRetries")
	if v := afterRestart(s, h, 2); v != 2 {
		s.Fatalf("Add(2) after the restart = %d, want 2: the constructor ran again on a fresh state", v)
	}
	// No restarts left: the next kill is final, even with AllowRestart. (On Ray a kill takes
	// effect asynchronously, so a call right after it may still reach the old instance.)
	s.must(h.Kill(s.Ctx, fray.KillOptions{AllowRestart: true}), "second Kill")
	deadline := time.Now().Add(30 * time.Second)
	for {
		err = sub(counterAdd.Remote(s.Ctx, h, 1)).outcome(s)
		if errors.Is(err, fray.ErrActorDied) {
			break
		}
		if err != nil || time.Now().After(deadline) {
			s.Fatalf("call after the final Kill: %v; want the actor dead", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // dead for good, not restarting
	err = sub(counterAdd.Remote(s.Ctx, h, 1)).outcome(s)
	s.wantErr(err, fray.ErrActorDied, "call once the restarts are used up")
}

// With MaxTaskRetries, the calls running or queued when the actor restarts run again on the
// new instance (at-least-once: the running one starts twice).
func testActorTaskRetries(s *env) {
	rec := s.recorder()
	s.openGateAtCleanup(rec, "gate")
	h, err := Counter.Create(s.Ctx, 0, fray.ActorOptions{MaxRestarts: 1, MaxTaskRetries: 2})
	s.must(err, "create Counter")
	killAtCleanup(s, s.Ctx, h)
	if v := sub(counterAdd.Remote(s.Ctx, h, 5)).get(s); v != 5 {
		s.Fatalf("Add(5) = %d", v)
	}
	running, err := counterBlock.Remote(s.Ctx, h, Gated{Rec: rec, StartKey: "start", GateKey: "gate", Value: 7})
	s.must(err, "submit blocking call")
	s.await(rec, "start", 1)
	pending, err := counterAdd.Remote(s.Ctx, h, 1)
	s.must(err, "submit queued call")
	s.must(h.Kill(s.Ctx, fray.KillOptions{AllowRestart: true}), "Kill with AllowRestart")
	// the blocking call starts again on the restarted actor (only then is the gate opened:
	// on Ray the kill lands asynchronously, and the old instance must not finish the call)
	s.await(rec, "start", 2)
	_, err = recIncr.Call(s.Ctx, rec, "gate")
	s.must(err, "open the gate")
	if v, err := running.Get(s.Ctx); err != nil || v != 7 {
		s.Fatalf("running call with MaxTaskRetries: %d, %v; want 7 from its run on the restarted actor", v, err)
	}
	if v, err := pending.Get(s.Ctx); err != nil || v != 1 {
		s.Fatalf("queued call with MaxTaskRetries: %d, %v; want 1 (run on the restarted actor's fresh state)", v, err)
	}
	if v := sub(counterValue.Remote(s.Ctx, h, struct{}{})).get(s); v != 1 {
		s.Fatalf("Value = %d after the restart, want 1", v)
	}
}

func testActorHandleToTask(s *env) {
	h, err := Counter.Create(s.Ctx, 1)
	s.must(err, "create Counter")
	if v := sub(addViaHandle.Remote(s.Ctx, HandleArg{H: h, D: 4})).get(s); v != 5 {
		s.Fatalf("task calling the actor through a passed handle got %d, want 5", v)
	}
	if v, err := counterValue.Call(s.Ctx, h, struct{}{}); err != nil || v != 5 {
		s.Fatalf("actor state after the task's call = %d, %v; want 5", v, err)
	}
}

func testActorHandleToActor(s *env) {
	target, err := Counter.Create(s.Ctx, 0)
	s.must(err, "create target Counter")
	relay, err := Relay.Create(s.Ctx, target)
	s.must(err, "create Relay with a handle as constructor argument")
	if v, err := relayForward.Call(s.Ctx, relay, 7); err != nil || v != 7 {
		s.Fatalf("Relay.Forward(7) = %d, %v; want 7", v, err)
	}
	other, err := Counter.Create(s.Ctx, 100)
	s.must(err, "create second Counter")
	if v, err := counterAddTo.Call(s.Ctx, other, PeerAdd{Peer: target, D: 3}); err != nil || v != 10 {
		s.Fatalf("Counter.AddTo(target, 3) = %d, %v; want 10 (handle passed as a method argument)", v, err)
	}
	if v, err := counterValue.Call(s.Ctx, target, struct{}{}); err != nil || v != 10 {
		s.Fatalf("target = %d, %v; want 10", v, err)
	}
}

func testActorWrongClass(s *env) {
	b, err := CounterB.Create(s.Ctx, 0)
	s.must(err, "create CounterB")
	_, err = counterAdd.Remote(s.Ctx, b, 1)
	s.wantErr(err, fray.ErrInvalidArgument, "Counter method on a CounterB handle")
	s.wantContains(err, "message", "fraytest.Counter.Add", "fraytest.CounterB")
	if v, err := counterBValue.Call(s.Ctx, b, struct{}{}); err != nil || v != 0 {
		s.Fatalf("CounterB.Value = %d, %v", v, err)
	}
}

func testActorInTask(s *env) {
	if v := sub(actorInTask.Remote(s.Ctx, 41)).get(s); v != 42 {
		s.Fatalf("actor created inside a task returned %d, want 42", v)
	}
}

func testActorFailedRefArg(s *env) {
	h, err := Counter.Create(s.Ctx, 5)
	s.must(err, "create Counter")
	bad, err := failWith.Remote(s.Ctx, "no value for you")
	s.must(err, "submit failing task")
	call, err := counterAdd.RemoteRef(s.Ctx, h, bad)
	s.must(err, "submit call with a ref argument")
	_, err = call.Get(s.Ctx)
	s.wantErr(err, fray.ErrTaskFailed, "call whose ref argument failed")
	s.wantContains(err, "message", "no value for you")
	if v, err := counterValue.Call(s.Ctx, h, struct{}{}); err != nil || v != 5 {
		s.Fatalf("Value = %d, %v; want 5: the call must not run, and the actor must live on", v, err)
	}
}
