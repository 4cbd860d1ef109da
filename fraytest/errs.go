package fraytest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/fray-go/fray"
)

func errorCases() []testCase {
	return []testCase{
		{"ReturnedErrorIsTaskError", testErrReturned},
		{"RegisteredErrorTypeSurvives", testErrRegistered},
		{"UnregisteredErrorIsRemoteError", testErrUnregistered},
		{"PanicIsTaskErrorWithStack", testErrPanic},
		{"GoexitIsTaskError", testErrGoexit},
		{"UnserializableArgumentFailsAtCallSite", testErrUnserializableArg},
		{"UnserializableResultFailsGet", testErrUnserializableResult},
		{"CyclicOrTooDeepArgumentFailsAtCallSite", testErrCyclicArg},
		{"CyclicOrTooDeepResultFailsGet", testErrCyclicResult},
		{"LateRegistration", testErrLateRegistration},
		{"MissingJobContextSaysHowToSetOne", testErrNoJobContext},
		{"DroppedTaskContextHasNoJobContext", testErrDroppedCtx},
		{"ForeignRef", testErrForeignRef},
		{"RetryExceptionsRetriesAppErrors", testErrRetryExceptions},
		{"NoRetryWithoutRetryExceptions", testErrNoRetry},
		{"RetriesExhausted", testErrRetriesExhausted},
	}
}

func testErrReturned(s *env) {
	_, err := failWith.Call(s.Ctx, "disk full")
	s.wantErr(err, fray.ErrTaskFailed, "failing task")
	var te *fray.TaskError
	if !errors.As(err, &te) {
		s.Fatalf("error %v (%T) is not a *fray.TaskError", err, err)
	}
	if te.Message != "disk full" {
		s.Errorf("TaskError.Message = %q, want %q", te.Message, "disk full")
	}
	if te.TypeName != "*errors.errorString" {
		s.Errorf("TaskError.TypeName = %q, want %q", te.TypeName, "*errors.errorString")
	}
	if te.Task != failWith.Name() {
		s.Errorf("TaskError.Task = %q, want %q", te.Task, failWith.Name())
	}
	if te.Panic {
		s.Error("TaskError.Panic set for a returned error")
	}
	if te.Cause == nil || te.Cause.Error() != "disk full" {
		s.Errorf("TaskError.Cause = %v, want an error with message %q", te.Cause, "disk full")
	}
	s.wantContains(err, "error text", "disk full", failWith.Name())
}

func testErrRegistered(s *env) {
	_, err := failCoded.Call(s.Ctx, CodedError{Code: 507, Detail: "insufficient storage"})
	s.wantErr(err, fray.ErrTaskFailed, "failing task")
	var ce *CodedError
	if !errors.As(err, &ce) {
		s.Fatalf("errors.As(%v, *CodedError) failed: a RegisterError type must arrive as itself (got chain %s)", err, chain(err))
	}
	if ce.Code != 507 || ce.Detail != "insufficient storage" {
		s.Errorf("CodedError = %+v, want Code 507, Detail %q", *ce, "insufficient storage")
	}
	var te *fray.TaskError
	if errors.As(err, &te) && te.TypeName != "*fraytest.CodedError" {
		s.Errorf("TaskError.TypeName = %q, want %q", te.TypeName, "*fraytest.CodedError")
	}
}

func testErrUnregistered(s *env) {
	_, err := failUnregistered.Call(s.Ctx, "lost in transit")
	s.wantErr(err, fray.ErrTaskFailed, "failing task")
	var re *fray.RemoteError
	if !errors.As(err, &re) {
		s.Fatalf("an unregistered error type must arrive as *fray.RemoteError (values cross the codec on every backend); got chain %s", chain(err))
	}
	if re.TypeName != "*fraytest.unregisteredError" || re.Message != "unregistered: lost in transit" {
		s.Errorf("RemoteError = %+v, want TypeName *fraytest.unregisteredError and the original message", *re)
	}
	var orig *unregisteredError
	if errors.As(err, &orig) {
		s.Error("an unregistered error type arrived as itself: the backend skipped the codec for errors, so behaviour will differ on a multi-process backend")
	}
}

func testErrPanic(s *env) {
	_, err := panicTask.Call(s.Ctx, "kaboom")
	s.wantErr(err, fray.ErrTaskFailed, "panicking task")
	var te *fray.TaskError
	if !errors.As(err, &te) {
		s.Fatalf("error %v (%T) is not a *fray.TaskError", err, err)
	}
	if !te.Panic {
		s.Error("TaskError.Panic = false for a panic")
	}
	if !strings.Contains(te.Message, "fraytest boom: kaboom") {
		s.Errorf("TaskError.Message = %q, want the panic value", te.Message)
	}
	if !strings.Contains(te.Stack, "fraytest.panickingTask") {
		s.Errorf("TaskError.Stack does not name the panicking function fraytest.panickingTask:\n%s", te.Stack)
	}
	// The job context is still usable after a panic.
	if v, err := square.Call(s.Ctx, 3); err != nil || v != 9 {
		s.Errorf("square after a panic = %d, %v", v, err)
	}
}

func testErrUnserializableArg(s *env) {
	ch := make(chan int, 3)
	cases := []struct {
		name string
		call func() error
	}{
		{"task chan", func() error { _, err := takesChan.Remote(s.Ctx, WithChan{C: ch}); return err }},
		{"task func", func() error { _, err := takesFunc.Remote(s.Ctx, WithFunc{F: func() int { return 1 }}); return err }},
		{"task unexported field", func() error { _, err := takesOpaque.Remote(s.Ctx, Opaque{Visible: 1, hidden: 2}); return err }},
		{"Put unexported field", func() error { _, err := fray.Put(s.Ctx, Opaque{Visible: 1, hidden: 2}); return err }},
		{"Put chan", func() error { _, err := fray.Put(s.Ctx, ch); return err }},
	}
	for _, c := range cases {
		err := c.call()
		if err == nil {
			s.Errorf("%s: the call was accepted; a value the codec cannot carry must fail at the call site with fray.ErrSerialization", c.name)
			continue
		}
		if !errors.Is(err, fray.ErrSerialization) {
			s.Errorf("%s: got %v, want fray.ErrSerialization", c.name, err)
		}
	}
	// The same for an actor constructor argument and a method argument.
	_, err := OpaqueHolder.Create(s.Ctx, Opaque{Visible: 1, hidden: 2})
	s.wantErr(err, fray.ErrSerialization, "actor constructor argument with an unexported field")
	s.wantContains(err, "message", "hidden")
	h, err := Counter.Create(s.Ctx, 0)
	s.must(err, "create Counter")
	_, err = counterTakeOpaque.Remote(s.Ctx, h, Opaque{Visible: 1, hidden: 2})
	s.wantErr(err, fray.ErrSerialization, "method argument with an unexported field")
	// The actor is unaffected.
	if v, err := counterAdd.Call(s.Ctx, h, 3); err != nil || v != 3 {
		s.Errorf("Counter.Add after a refused call = %d, %v; want 3", v, err)
	}
}

func testErrUnserializableResult(s *env) {
	_, err := opaqueResult.Call(s.Ctx, 5)
	if err == nil {
		s.Fatal("a task whose result has an unexported field succeeded; the result must fail to encode with fray.ErrSerialization")
	}
	if !errors.Is(err, fray.ErrSerialization) {
		s.Fatalf("got %v, want an error matching fray.ErrSerialization", err)
	}
	s.wantContains(err, "message", "hidden")
}

// wantSerialization fails unless err is a *fray.SerializationError (somewhere in its chain)
// whose message contains want.
func (s *env) wantSerialization(err error, what, want string) {
	s.Helper()
	var se *fray.SerializationError
	if !errors.As(err, &se) {
		s.Errorf("%s: got %v (chain %s), want a *fray.SerializationError", what, err, chain(err))
		return
	}
	if !strings.Contains(err.Error(), want) {
		s.Errorf("%s: error %q does not mention %q", what, err, want)
	}
}

func testErrCyclicArg(s *env) {
	cyclic, tooDeep, deepest := nodeList(-3), nodeList(fray.MaxNesting+1), nodeList(fray.MaxNesting)
	self := map[string]any{"label": "m"}
	self["self"] = self
	loop := []any{"s", nil}
	loop[1] = loop
	var iface any
	iface = &iface
	_, err := fray.Put(s.Ctx, cyclic)
	s.wantSerialization(err, "Put of a cyclic list", "cycl")
	_, err = fray.Put(s.Ctx, self)
	s.wantSerialization(err, "Put of a map holding itself", "cycl")
	_, err = fray.Put(s.Ctx, loop)
	s.wantSerialization(err, "Put of a slice holding itself", "cycl")
	_, err = fray.Put(s.Ctx, iface)
	s.wantSerialization(err, "Put of a pointer to an interface holding it", "cycl")
	_, err = fray.Put(s.Ctx, tooDeep)
	s.wantSerialization(err, "Put of a list one level deeper than fray.MaxNesting", "levels")
	_, err = listLen.Remote(s.Ctx, cyclic)
	s.wantSerialization(err, "task argument: a cyclic list", "cycl")
	_, err = listLen.Remote(s.Ctx, tooDeep)
	s.wantSerialization(err, "task argument: a list deeper than fray.MaxNesting", "levels")

	// Exactly fray.MaxNesting levels travel, both ways, and decode.
	if n := sub(listLen.Remote(s.Ctx, deepest)).get(s); n != fray.MaxNesting {
		s.Errorf("listLen of a %d-node list = %d", fray.MaxNesting, n)
	}
	ref, err := fray.Put(s.Ctx, deepest)
	s.must(err, "Put of a list fray.MaxNesting deep")
	got, err := ref.Get(s.Ctx)
	s.must(err, "Get of a list fray.MaxNesting deep")
	if nodeLen(got) != fray.MaxNesting {
		s.Errorf("Get returned a list of %d nodes, want %d", nodeLen(got), fray.MaxNesting)
	}

	h, err := Counter.Create(s.Ctx, 0)
	s.must(err, "create Counter")
	_, err = counterListLen.Remote(s.Ctx, h, cyclic)
	s.wantSerialization(err, "method argument: a cyclic list", "cycl")
	_, err = counterListLen.Remote(s.Ctx, h, tooDeep)
	s.wantSerialization(err, "method argument: a list deeper than fray.MaxNesting", "levels")
	if n, err := counterListLen.Call(s.Ctx, h, deepest); err != nil || n != fray.MaxNesting {
		s.Errorf("Counter.ListLen of a %d-node list = %d, %v", fray.MaxNesting, n, err)
	}
}

func testErrCyclicResult(s *env) {
	_, err := makeList.Call(s.Ctx, -3)
	s.wantSerialization(err, "task result: a cyclic list", "cycl")
	_, err = makeList.Call(s.Ctx, fray.MaxNesting+1)
	s.wantSerialization(err, "task result: a list deeper than fray.MaxNesting", "levels")
	if l, err := makeList.Call(s.Ctx, fray.MaxNesting); err != nil || nodeLen(l) != fray.MaxNesting {
		s.Errorf("makeList(%d) = a list of %d nodes, %v; want %d nodes", fray.MaxNesting, nodeLen(l), err, fray.MaxNesting)
	}
	// The worker that refused the results still serves tasks.
	if v, err := square.Call(s.Ctx, 4); err != nil || v != 16 {
		s.Errorf("square after refused results = %d, %v", v, err)
	}

	// An actor refuses the result and lives on, state and all (in its own process where
	// the backend runs one: a crash there would be an ActorDiedError from now on).
	h, err := Counter.Create(s.Ctx, 0)
	s.must(err, "create Counter")
	if v, err := counterAdd.Call(s.Ctx, h, 5); err != nil || v != 5 {
		s.Fatalf("Counter.Add = %d, %v; want 5", v, err)
	}
	_, err = counterMakeList.Call(s.Ctx, h, -3)
	s.wantSerialization(err, "method result: a cyclic list", "cycl")
	_, err = counterMakeList.Call(s.Ctx, h, fray.MaxNesting+1)
	s.wantSerialization(err, "method result: a list deeper than fray.MaxNesting", "levels")
	if v, err := counterAdd.Call(s.Ctx, h, 1); err != nil || v != 6 {
		s.Errorf("Counter.Add after refused results = %d, %v; want 6 (the actor must survive with its state)", v, err)
	}
}

var lateSeq atomic.Int64

func testErrLateRegistration(s *env) {
	n := lateSeq.Add(1)
	name := "fraytest.late" + strings.Repeat("x", int(n)) // unique per Run
	late := fray.NewTask(name, func(_ context.Context, x int) (int, error) { return x, nil })
	_, err := late.Remote(s.Ctx, 1)
	if err == nil {
		s.Fatal("a task defined after fray.Init was callable: the registry is not frozen (call fray.Init() first thing in TestMain)")
	}
	s.wantErr(err, fray.ErrRegistryFrozen, "late task")
	s.wantContains(err, "message", name, "package-level")
	lateActor := fray.NewActor(name+"Actor", newCounter)
	_, err = lateActor.Create(s.Ctx, 1)
	s.wantErr(err, fray.ErrRegistryFrozen, "late actor class")
}

func testErrNoJobContext(s *env) {
	// Clear a process default for the duration, restoring whatever was there.
	if prev, err := fray.JobContextFrom(context.Background()); err == nil {
		fray.SetDefaultJobContext(nil)
		s.Cleanup(func() { fray.SetDefaultJobContext(prev) })
	}
	bare := context.Background()
	_, err := square.Remote(bare, 2)
	s.wantErr(err, fray.ErrNoJobContext, "Remote without a job context")
	s.wantContains(err, "message", "fray.WithJobContext", "fray.SetDefaultJobContext")
	_, err = fray.Put(bare, 1)
	s.wantErr(err, fray.ErrNoJobContext, "Put without a job context")
	_, err = Counter.Create(bare, 1)
	s.wantErr(err, fray.ErrNoJobContext, "Create without a job context")
	_, err = Counter.Lookup(bare, "anything", "")
	s.wantErr(err, fray.ErrNoJobContext, "Lookup without a job context")
	h, err := Counter.Create(s.Ctx, 1)
	s.must(err, "create Counter")
	_, err = counterAdd.Remote(bare, h, 1)
	s.wantErr(err, fray.ErrNoJobContext, "method call without a job context")
}

// testErrGoexit: runtime.Goexit in a task, an actor method or a constructor (what t.FailNow
// and t.Fatal do when a test helper runs as a task) fails that call instead of hanging it.
func testErrGoexit(s *env) {
	_, err := goexitTask.Call(s.Ctx, 1)
	s.wantErr(err, fray.ErrTaskFailed, "task that called runtime.Goexit")
	var te *fray.TaskError
	if !errors.As(err, &te) {
		s.Fatalf("error %v (%T) is not a *fray.TaskError", err, err)
	}
	if te.Task != goexitTask.Name() || te.TypeName != "runtime.Goexit" {
		s.Errorf("TaskError Task %q, TypeName %q; want %q, runtime.Goexit", te.Task, te.TypeName, goexitTask.Name())
	}
	s.wantContains(err, "message", "runtime.Goexit", "t.FailNow")
	// The backend goes on running tasks.
	if v, err := square.Call(s.Ctx, 3); err != nil || v != 9 {
		s.Fatalf("square(3) after a Goexit = %d, %v", v, err)
	}

	h, err := Counter.Create(s.Ctx, 5)
	s.must(err, "create Counter")
	_, err = counterGoexit.Call(s.Ctx, h, 1)
	s.wantErr(err, fray.ErrTaskFailed, "method that called runtime.Goexit")
	s.wantContains(err, "message", "runtime.Goexit", counterGoexit.Name())
	// The actor keeps its state and serves the next call, as after a panic.
	if v, err := counterAdd.Call(s.Ctx, h, 1); err != nil || v != 6 {
		s.Fatalf("Add(1) after a Goexit = %d, %v; want 6", v, err)
	}

	hc, err := FailingCtor.Create(s.Ctx, goexitCtor)
	if err == nil {
		err = sub(failingCtorPing.Remote(s.Ctx, hc, struct{}{})).outcome(s)
	}
	s.wantErr(err, fray.ErrActorDied, "actor whose constructor called runtime.Goexit")
	s.wantContains(err, "message", "runtime.Goexit")
}

// testErrDroppedCtx: a task that calls another with a ctx lacking the job context
// (context.Background() instead of its own ctx) gets ErrNoJobContext on every backend, in
// the driver's process and in worker processes alike: no backend installs a process default.
func testErrDroppedCtx(s *env) {
	if prev, err := fray.JobContextFrom(context.Background()); err == nil {
		fray.SetDefaultJobContext(nil)
		s.Cleanup(func() { fray.SetDefaultJobContext(prev) })
	}
	got, err := droppedCtx.Call(s.Ctx, 4)
	s.must(err, "droppedCtx")
	if !got.NoJobContext {
		s.Fatalf("a nested call with context.Background() inside a task returned %q; want an error matching fray.ErrNoJobContext (a worker must not fall back on a process default)", got.Err)
	}
	if !strings.Contains(got.Err, "pass on the ctx") {
		s.Errorf("ErrNoJobContext inside a task says %q; it should say to pass on the task's ctx", got.Err)
	}
}

func testErrForeignRef(s *env) {
	other, octx := s.fresh(Options{})
	if other.JobID() == s.JC.JobID() {
		s.Fatalf("two fresh job contexts share job id %q", other.JobID())
	}
	ref, err := square.Remote(s.Ctx, 4)
	s.must(err, "submit")
	_, err = ref.Get(octx)
	s.wantErr(err, fray.ErrForeignRef, "Get with another job context")
	s.wantContains(err, "message", string(ref.ID()))
	_, err = addOne.RemoteRef(octx, ref)
	s.wantErr(err, fray.ErrForeignRef, "ref argument to another job context")
	_, _, err = fray.Wait(octx, []fray.AnyRef{ref}, 1, 0)
	s.wantErr(err, fray.ErrForeignRef, "Wait with another job context")
	err = fray.Cancel(octx, ref, false)
	s.wantErr(err, fray.ErrForeignRef, "Cancel with another job context")
	oref, err := fray.Put(octx, 5)
	s.must(err, "Put on the other job context")
	_, err = fray.GetAll(s.Ctx, []fray.Ref[int]{ref, oref})
	s.wantErr(err, fray.ErrForeignRef, "GetAll mixing job contexts")
	h, err := Counter.Create(s.Ctx, 0)
	s.must(err, "create Counter")
	_, err = counterAdd.Remote(octx, h, 1)
	s.wantErr(err, fray.ErrForeignRef, "actor handle used with another job context")
	s.wantErr(h.Kill(octx), fray.ErrForeignRef, "Kill with another job context")
	// The ref still works with its own job context.
	if v := sub(ref, nil).get(s); v != 16 {
		s.Fatalf("square(4) = %d", v)
	}
}

func testErrRetryExceptions(s *env) {
	rec := s.recorder()
	res := sub(flaky.Remote(s.Ctx, Flaky{Rec: rec, Key: "runs", FailUntil: 3},
		fray.TaskOptions{MaxRetries: fray.Retries(3), RetryExceptions: true})).get(s)
	if res.Run != 3 {
		s.Errorf("flaky succeeded on run %d, want 3", res.Run)
	}
	if res.Attempt != 2 {
		s.Errorf("TaskInfo.Attempt on the third try = %d, want 2", res.Attempt)
	}
	if n := s.count(rec, "runs"); n != 3 {
		s.Errorf("flaky ran %d times, want 3 (two failures retried, then success)", n)
	}
}

func testErrNoRetry(s *env) {
	rec := s.recorder()
	err := sub(flaky.Remote(s.Ctx, Flaky{Rec: rec, Key: "runs", FailUntil: 3},
		fray.TaskOptions{MaxRetries: fray.Retries(3)})).outcome(s)
	s.wantErr(err, fray.ErrTaskFailed, "application error without RetryExceptions")
	s.wantContains(err, "message", "flaky failure on run 1")
	if n := s.count(rec, "runs"); n != 1 {
		s.Errorf("task ran %d times; application errors must not be retried without RetryExceptions", n)
	}
	// Default options: no retry of application errors either.
	err = sub(flaky.Remote(s.Ctx, Flaky{Rec: rec, Key: "runs2", FailUntil: 2})).outcome(s)
	s.wantErr(err, fray.ErrTaskFailed, "application error with default options")
	if n := s.count(rec, "runs2"); n != 1 {
		s.Errorf("task with default options ran %d times, want 1", n)
	}
}

func testErrRetriesExhausted(s *env) {
	rec := s.recorder()
	err := sub(flaky.Remote(s.Ctx, Flaky{Rec: rec, Key: "runs", FailUntil: 0},
		fray.TaskOptions{MaxRetries: fray.Retries(2), RetryExceptions: true})).outcome(s)
	s.wantErr(err, fray.ErrTaskFailed, "always-failing task")
	s.wantContains(err, "message", "flaky failure on run 3")
	if n := s.count(rec, "runs"); n != 3 {
		s.Errorf("task ran %d times, want 3 (1 + MaxRetries 2)", n)
	}
}

// chain describes an error chain for failure messages.
func chain(err error) string {
	var parts []string
	for e := err; e != nil; e = errors.Unwrap(e) {
		parts = append(parts, fmt.Sprintf("%T", e))
	}
	return strings.Join(parts, " -> ")
}
