package local_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/backend/local"
)

var (
	runs    atomic.Int64
	CountMe = fray.NewTask("localtest.countMe", func(ctx context.Context, x int) (int, error) {
		runs.Add(1)
		return x + 1, nil
	})
	Len = fray.NewTask("localtest.len", func(ctx context.Context, s string) (int, error) {
		return len(s), nil
	})
)

func TestTasksBothModes(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			jc, ctx := newJob(t, local.Options{DirectValues: m.direct})
			if jc.PassesValuesDirectly() != m.direct {
				t.Fatalf("PassesValuesDirectly = %v", jc.PassesValuesDirectly())
			}
			refs := make([]fray.Ref[int], 50)
			for i := range refs {
				refs[i] = must[fray.Ref[int]](t)(Square.Remote(ctx, i))
			}
			vs := must[[]int](t)(fray.GetAll(ctx, refs))
			for i, v := range vs {
				if v != i*i {
					t.Fatalf("square(%d) = %d", i, v)
				}
			}
			p := must[fray.Ref[[]string]](t)(fray.Put(ctx, []string{"a", "b"}))
			if got := must[[]string](t)(p.Get(ctx)); strings.Join(got, ",") != "a,b" {
				t.Fatalf("Put/Get = %v", got)
			}
			// refs nested in an argument travel as refs and are resolved inside the task
			if got := must[int](t)(SumRefs.Call(ctx, refs[:4])); got != 0+1+4+9 {
				t.Fatalf("SumRefs = %d", got)
			}
		})
	}
}

func TestTaskErrors(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			_, ctx := newJob(t, local.Options{DirectValues: m.direct})
			_, err := Fail.Call(ctx, "broken pipe")
			var te *fray.TaskError
			if !errors.As(err, &te) || !errors.Is(err, fray.ErrTaskFailed) {
				t.Fatalf("Fail: %T %v, want *fray.TaskError", err, err)
			}
			if te.Task != "localtest.fail" || te.Message != "broken pipe" || te.TypeName != "*errors.errorString" {
				t.Fatalf("TaskError = %+v", te)
			}
			var re *fray.RemoteError
			if gotRemote := errors.As(err, &re); gotRemote == m.direct {
				t.Fatalf("cause %T: a RemoteError is expected exactly in codec mode", te.Cause)
			}

			_, err = FailTyped.Call(ctx, 7)
			var ce *CodeError
			if !errors.As(err, &ce) || ce.Code != 7 {
				t.Fatalf("FailTyped: %v, want a *CodeError with code 7 (registered error types survive)", err)
			}

			_, err = Panic.Call(ctx, "oh no")
			if !errors.As(err, &te) || !te.Panic || te.Message != "oh no" || !strings.Contains(te.Stack, "funcs_test.go") {
				t.Fatalf("Panic: %+v", err)
			}

			_, err = Unencodable.Call(ctx, 0)
			if m.direct {
				if err != nil {
					t.Fatalf("direct mode passes values as they are, got %v", err)
				}
			} else if !errors.Is(err, fray.ErrTaskFailed) || !errors.Is(err, fray.ErrSerialization) {
				t.Fatalf("Unencodable in codec mode: %v, want a task error caused by a serialization error", err)
			}

			// Arguments that cannot be encoded fail at the call site in codec mode.
			if _, err := fray.Put(ctx, Hidden{n: 1}); m.direct == (err != nil) {
				t.Fatalf("Put(Hidden): %v", err)
			}
		})
	}
}

func TestArgRef(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			_, ctx := newJob(t, local.Options{DirectValues: m.direct})
			p := must[fray.Ref[int]](t)(fray.Put(ctx, 6))
			if got := must[int](t)(must[fray.Ref[int]](t)(Square.RemoteRef(ctx, p)).Get(ctx)); got != 36 {
				t.Fatalf("square(ref 6) = %d", got)
			}

			// A pending argument: the dependent runs once it is ready.
			g := gates.get(gn(t, ""))
			s := must[fray.Ref[string]](t)(Block.Remote(ctx, gn(t, "")))
			l := must[fray.Ref[int]](t)(Len.RemoteRef(ctx, s))
			if ready, _, _ := fray.WaitRefs(ctx, []fray.Ref[int]{l}, 1, 0); len(ready) != 0 {
				t.Fatal("dependent finished before its argument")
			}
			close(g.open)
			if got := must[int](t)(l.Get(ctx)); got != len("opened") {
				t.Fatalf("len = %d", got)
			}

			// A failed argument fails the dependent with the same error, without running it.
			before := runs.Load()
			bad := must[fray.Ref[int]](t)(Fail.Remote(ctx, "upstream"))
			dep := must[fray.Ref[int]](t)(CountMe.RemoteRef(ctx, bad))
			dep2 := must[fray.Ref[int]](t)(CountMe.RemoteRef(ctx, dep))
			_, err1 := bad.Get(ctx)
			_, err2 := dep.Get(ctx)
			_, err3 := dep2.Get(ctx)
			if err1 == nil || err2 != err1 || err3 != err1 {
				t.Fatalf("errors: %v / %v / %v, want the same error thrice", err1, err2, err3)
			}
			if runs.Load() != before {
				t.Fatal("a task whose argument failed ran")
			}
		})
	}
}

func TestRetries(t *testing.T) {
	_, ctx := newJob(t, local.Options{})
	cases := []struct {
		name     string
		failures int
		opts     fray.TaskOptions
		want     int // attempt that succeeds, -1 for failure
	}{
		{"no retry of app errors by default", 1, fray.TaskOptions{}, -1},
		{"default 3 retries", 3, fray.TaskOptions{RetryExceptions: true}, 3},
		{"more failures than default retries", 4, fray.TaskOptions{RetryExceptions: true}, -1},
		{"one retry", 1, fray.TaskOptions{RetryExceptions: true, MaxRetries: fray.Retries(1)}, 1},
		{"zero retries", 1, fray.TaskOptions{RetryExceptions: true, MaxRetries: fray.Retries(0)}, -1},
		{"unlimited", 20, fray.TaskOptions{RetryExceptions: true, MaxRetries: fray.Retries(-1)}, 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Flaky.Call(ctx, FlakyArg{Key: gn(t, ""), Failures: c.failures}, c.opts)
			if c.want < 0 {
				if !errors.Is(err, fray.ErrTaskFailed) {
					t.Fatalf("got %d, %v; want a task error", got, err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got attempt %d, %v; want attempt %d", got, err, c.want)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	_, ctx := newJob(t, local.Options{Resources: fray.Resources{fray.CPU: 1}})
	// A running task has its ctx cancelled and is not retried.
	g := gates.get(gn(t, "/running"))
	running := must[fray.Ref[string]](t)(Block.Remote(ctx, gn(t, "/running"), fray.TaskOptions{RetryExceptions: true, MaxRetries: fray.Retries(-1)}))
	<-g.start
	// A queued task (the only CPU is taken) never runs.
	before := runs.Load()
	queued := must[fray.Ref[int]](t)(CountMe.Remote(ctx, 1))
	if err := fray.Cancel(ctx, queued, false); err != nil {
		t.Fatal(err)
	}
	if err := fray.Cancel(ctx, running, true); err != nil {
		t.Fatal(err)
	}
	for _, r := range []fray.AnyRef{running, queued} {
		var ce *fray.CancelledError
		var gerr error
		switch r := r.(type) {
		case fray.Ref[string]:
			_, gerr = r.Get(ctx)
		case fray.Ref[int]:
			_, gerr = r.Get(ctx)
		}
		if !errors.As(gerr, &ce) || ce.TaskID != string(r.ID()) {
			t.Fatalf("Get after Cancel: %v, want *fray.CancelledError for %s", gerr, r.ID())
		}
	}
	// The node is free again once the cancelled task returned: this one runs.
	if got := must[int](t)(Square.Call(ctx, 3)); got != 9 {
		t.Fatal(got)
	}
	if !g.cancelled.Load() {
		t.Fatal("the running task's ctx was not cancelled")
	}
	if runs.Load() != before {
		t.Fatal("the cancelled queued task ran")
	}
	// Cancelling a finished task does nothing.
	done := must[fray.Ref[int]](t)(Square.Remote(ctx, 4))
	must[int](t)(done.Get(ctx))
	if err := fray.Cancel(ctx, done, false); err != nil {
		t.Fatal(err)
	}
	if got := must[int](t)(done.Get(ctx)); got != 16 {
		t.Fatal(got)
	}
}

func TestGetTimeoutAndDoneCtx(t *testing.T) {
	_, ctx := newJob(t, local.Options{})
	ready := must[fray.Ref[int]](t)(fray.Put(ctx, 5))
	pending := must[fray.Ref[string]](t)(Block.Remote(ctx, gn(t, "")))
	defer close(gates.get(gn(t, "")).open)

	done, cancel := context.WithCancel(ctx)
	cancel()
	if v, err := ready.Get(done); err != nil || v != 5 {
		t.Fatalf("Get of a ready value with a done ctx: %v, %v", v, err)
	}
	short, cancel2 := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel2()
	_, err := pending.Get(short)
	if !errors.Is(err, fray.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get past the deadline: %v, want a timeout", err)
	}
}

func TestWait(t *testing.T) {
	_, ctx := newJob(t, local.Options{})
	a := must[fray.Ref[int]](t)(fray.Put(ctx, 1))
	b := must[fray.Ref[int]](t)(Fail.Remote(ctx, "x")) // failed counts as ready
	must[int](t)(a.Get(ctx))
	_, _ = b.Get(ctx)
	p := must[fray.Ref[string]](t)(Block.Remote(ctx, gn(t, "")))
	g := gates.get(gn(t, ""))
	refs := []fray.AnyRef{p, a, b}

	ready, pending, err := fray.Wait(ctx, refs, 1, 0)
	if err != nil || len(ready) != 1 || ready[0].ID() != a.ID() || len(pending) != 2 {
		t.Fatalf("Wait(1, 0) = %v, %v, %v", ready, pending, err)
	}
	ready, _, err = fray.Wait(ctx, refs, 3, 20*time.Millisecond)
	if err != nil || len(ready) != 2 {
		t.Fatalf("Wait(3, 20ms) = %v, %v; want the two ready refs after the timeout", ready, err)
	}
	go func() { <-g.start; close(g.open) }()
	ready, pending, err = fray.Wait(ctx, refs, 3, fray.Forever)
	if err != nil || len(ready) != 3 || len(pending) != 0 || ready[0].ID() != p.ID() {
		t.Fatalf("Wait(3, Forever) = %v, %v, %v", ready, pending, err)
	}
}

func TestInfeasible(t *testing.T) {
	jc, ctx := newJob(t, local.Options{Resources: fray.Resources{fray.CPU: 2, "head_node": 1}})
	infeasible := []struct {
		res      fray.Resources
		resource string
		capacity float64
	}{
		{fray.Resources{fray.GPU: 1}, fray.GPU, 0},
		{fray.Resources{fray.CPU: 3}, fray.CPU, 2},
		{fray.Resources{fray.CPU: 2.0001}, fray.CPU, 2},
		{fray.Resources{"head_node": 1.5}, "head_node", 1},
		{fray.Resources{"TPU": 1, fray.CPU: 0}, "TPU", 0},
	}
	for _, c := range infeasible {
		_, err := Square.Remote(ctx, 1, fray.TaskOptions{Resources: c.res})
		var ie *fray.InfeasibleError
		if !errors.As(err, &ie) || ie.Resource != c.resource || ie.Capacity != c.capacity || ie.Requested != c.res[c.resource] {
			t.Errorf("task %v: %v, want infeasible %s (capacity %g)", c.res, err, c.resource, c.capacity)
		}
		_, err = Counter.Create(ctx, 0, fray.ActorOptions{Resources: c.res})
		if !errors.As(err, &ie) || ie.Resource != c.resource {
			t.Errorf("actor %v: %v, want infeasible %s", c.res, err, c.resource)
		}
	}
	// Feasible exact-capacity and zero requests run.
	for _, r := range []fray.Resources{{fray.CPU: 2}, {fray.CPU: 0}, {"head_node": 1, fray.CPU: 0.5}, {fray.GPU: 0}} {
		if _, err := Square.Call(ctx, 2, fray.TaskOptions{Resources: r}); err != nil {
			t.Errorf("task %v: %v", r, err)
		}
	}

	// A runtime env goes to a worker process; the driver's environment stays as it was.
	if v, err := Square.Call(ctx, 3, fray.TaskOptions{RuntimeEnv: fray.RuntimeEnv{Env: map[string]string{"A": "1"}}}); err != nil || v != 9 {
		t.Errorf("task with a runtime env: %d, %v", v, err)
	}
	if _, ok := os.LookupEnv("A"); ok {
		t.Error("the backend changed the process environment")
	}
	if got := jc.Cluster().Available(); got[fray.CPU] != 2 || got["head_node"] != 1 {
		t.Errorf("resources not returned: %v", got)
	}
}

func TestResourceAccounting(t *testing.T) {
	// A unit resource other than GPU ("TPU"): GPU tasks run in worker processes (MaxCalls 1
	// by default), and Block's gates live in this process. process_test.go covers GPUs.
	jc, ctx := newJob(t, local.Options{Resources: fray.Resources{fray.CPU: 1, fray.TPU: 1}})
	// The only TPU is taken and a second TPU task waits for it; CPU tasks still run.
	g1 := gates.get(gn(t, "/gpu1"))
	gpu := fray.TaskOptions{Resources: fray.Resources{fray.TPU: 1, fray.CPU: 0}}
	r1 := must[fray.Ref[string]](t)(Block.Remote(ctx, gn(t, "/gpu1"), gpu))
	<-g1.start
	r2 := must[fray.Ref[string]](t)(Block.Remote(ctx, gn(t, "/gpu2"), gpu))
	for i := range 3 {
		if got := must[int](t)(Square.Call(ctx, i)); got != i*i {
			t.Fatal(got)
		}
	}
	if av := jc.Cluster().Available(); av[fray.TPU] != 0 || av[fray.CPU] != 1 {
		t.Fatalf("available while a TPU task runs: %v", av)
	}
	select {
	case <-gates.get(gn(t, "/gpu2")).start:
		t.Fatal("second TPU task started while the TPU was taken")
	default:
	}
	close(g1.open)
	close(gates.get(gn(t, "/gpu2")).open)
	must[string](t)(r1.Get(ctx))
	must[string](t)(r2.Get(ctx))

	// Fractional amounts add up exactly: 10 tasks of 0.1 CPU fit at once on 1 CPU.
	tenth := fray.TaskOptions{Resources: fray.Resources{fray.CPU: 0.1}}
	var refs []fray.Ref[string]
	for i := range 10 {
		refs = append(refs, must[fray.Ref[string]](t)(Block.Remote(ctx, gn(t, "/tenth")+string(rune('a'+i)), tenth)))
	}
	for i := range 10 {
		<-gates.get(gn(t, "/tenth") + string(rune('a'+i))).start
	}
	if av := jc.Cluster().Available(); av[fray.CPU] != 0 {
		t.Fatalf("available CPU with ten 0.1-CPU tasks running: %v", av[fray.CPU])
	}
	for i := range 10 {
		close(gates.get(gn(t, "/tenth") + string(rune('a'+i))).open)
	}
	must[[]string](t)(fray.GetAll(ctx, refs))
	want := jc.Cluster().Resources()
	if av := jc.Cluster().Available(); av[fray.CPU] != want[fray.CPU] || av[fray.TPU] != want[fray.TPU] {
		t.Fatalf("resources not all returned: %v of %v", av, want)
	}
}

func TestNestedTasksDoNotDeadlock(t *testing.T) {
	// One CPU, held by the parent: the children run because a parent blocked in Get lends
	// its CPU to the node, as in Ray.
	jc, ctx := newJob(t, local.Options{Resources: fray.Resources{fray.CPU: 1}})
	refs := make([]fray.Ref[int], 3)
	for i := range refs {
		refs[i] = must[fray.Ref[int]](t)(Nested.Remote(ctx, 5))
	}
	for _, v := range must[[]int](t)(fray.GetAll(ctx, refs)) {
		if v != 0+1+4+9+16 {
			t.Fatal(v)
		}
	}
	if av := jc.Cluster().Available(); av[fray.CPU] != 1 {
		t.Fatalf("CPU not returned: %v", av)
	}
}

func TestTaskInfo(t *testing.T) {
	jc, ctx := newJob(t, local.Options{JobID: "job-42"})
	r := must[fray.Ref[fray.TaskInfo]](t)(Info.Remote(ctx, 0, fray.TaskOptions{Name: "info:step"}))
	info := must[fray.TaskInfo](t)(r.Get(ctx))
	if info.JobID != "job-42" || jc.JobID() != "job-42" || info.TaskID != string(r.ID()) || info.Name != "info:step" || info.PID != os.Getpid() || info.Attempt != 0 {
		t.Fatalf("TaskInfo = %+v", info)
	}
	if info := must[fray.TaskInfo](t)(Info.Call(ctx, 0)); info.Name != "localtest.info" {
		t.Fatalf("default name %q", info.Name)
	}
}

func TestClose(t *testing.T) {
	jc, err := local.New(local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := fray.WithJobContext(context.Background(), jc)
	g := gates.get(gn(t, ""))
	running := must[fray.Ref[string]](t)(Block.Remote(ctx, gn(t, "")))
	<-g.start
	done := must[fray.Ref[int]](t)(fray.Put(ctx, 1))
	if err := jc.Close(); err != nil {
		t.Fatal(err)
	}
	if !g.cancelled.Load() {
		t.Fatal("Close returned before cancelling the running task")
	}
	if err := jc.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for name, err := range map[string]error{
		"Remote": second(Square.Remote(ctx, 1)),
		"Put":    second(fray.Put(ctx, 1)),
		"Get":    second(done.Get(ctx)),
		"Get2":   second(running.Get(ctx)),
		"Create": second(Counter.Create(ctx, 0)),
		"Lookup": second(Counter.Lookup(ctx, "x", "")),
	} {
		if !errors.Is(err, fray.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestOptionsAndDefaults(t *testing.T) {
	jc, _ := newJob(t, local.Options{Resources: fray.Resources{"head_node": 1, fray.CPU: 3}})
	res := jc.Cluster().Resources()
	if res[fray.CPU] != 3 || res["head_node"] != 1 || res[fray.GPU] != 0 {
		t.Fatalf("resources %v", res)
	}
	if runtime.GOOS == "linux" && res[fray.Memory] <= 0 {
		t.Fatalf("memory not read from /proc/meminfo: %v", res)
	}
	if jc.Namespace() != "default" || len(jc.JobID()) == 0 || jc.Backend() != "local" {
		t.Fatalf("defaults: ns %q job %q backend %q", jc.Namespace(), jc.JobID(), jc.Backend())
	}
	d, _ := newJob(t, local.Options{})
	if got := d.Cluster().Resources()[fray.CPU]; got != float64(runtime.NumCPU()) {
		t.Fatalf("default CPU %v", got)
	}
	c := newCluster(t, nil)
	if _, err := local.New(local.Options{Cluster: c, Resources: fray.Resources{fray.CPU: 1}}); !errors.Is(err, fray.ErrInvalidArgument) {
		t.Fatalf("Resources with Cluster: %v", err)
	}
	if _, err := local.New(local.Options{Resources: fray.Resources{"num_cpus": 1}}); !errors.Is(err, fray.ErrInvalidResources) {
		t.Fatalf("bad resources: %v", err)
	}
}

func TestRelease(t *testing.T) {
	jc, ctx := newJob(t, local.Options{})
	id, err := jc.Put(ctx, backend.Payload{Value: 1})
	if err != nil {
		t.Fatal(err)
	}
	jc.Release([]backend.ObjectID{id})
	var lost *fray.ObjectLostError
	if _, err := jc.Get(ctx, []backend.ObjectID{id}); !errors.As(err, &lost) {
		t.Fatalf("Get of a released object: %v", err)
	}
	// A pending object released by its caller still completes for its dependents.
	s := must[fray.Ref[string]](t)(Block.Remote(ctx, gn(t, "")))
	l := must[fray.Ref[int]](t)(Len.RemoteRef(ctx, s))
	jc.Release([]backend.ObjectID{s.ID()})
	close(gates.get(gn(t, "")).open)
	if got := must[int](t)(l.Get(ctx)); got != 6 {
		t.Fatal(got)
	}
	if _, err := jc.Get(ctx, []backend.ObjectID{s.ID()}); !errors.As(err, &lost) {
		t.Fatalf("released object still there once done: %v", err)
	}
	// Garbage-collected refs release their objects.
	before := jc.NumObjects()
	for range 100 {
		_ = must[fray.Ref[int]](t)(fray.Put(ctx, 1))
	}
	if jc.NumObjects() < before+100 {
		t.Fatalf("%d objects after 100 Puts, had %d", jc.NumObjects(), before)
	}
	for i := 0; jc.NumObjects() > before && i < 200; i++ {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	if n := jc.NumObjects(); n > before {
		t.Fatalf("%d objects left after the refs were collected, want %d", n, before)
	}
}

func TestAsCompleted(t *testing.T) {
	_, ctx := newJob(t, local.Options{})
	a := must[fray.Ref[string]](t)(Block.Remote(ctx, gn(t, "a")))
	b := must[fray.Ref[string]](t)(Block.Remote(ctx, gn(t, "b")))
	ga, gb := gates.get(gn(t, "a")), gates.get(gn(t, "b"))
	go func() { <-gb.start; close(gb.open) }()
	var order []backend.ObjectID
	for r, err := range fray.AsCompleted(ctx, []fray.Ref[string]{a, b}) {
		if err != nil {
			t.Fatalf("AsCompleted: %v", err)
		}
		order = append(order, r.ID())
		if r.ID() == b.ID() {
			go func() { <-ga.start; close(ga.open) }()
		}
	}
	if len(order) != 2 || order[0] != b.ID() || order[1] != a.ID() {
		t.Fatalf("AsCompleted order = %v, want b then a", order)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	c := must[fray.Ref[string]](t)(Block.Remote(ctx, gn(t, "c")))
	n := 0
	for _, err := range fray.AsCompleted(done, []fray.Ref[string]{c}) {
		n++
		if err == nil {
			t.Fatalf("AsCompleted with a done ctx yielded no error")
		}
	}
	if n != 1 {
		t.Fatalf("AsCompleted with a done ctx yielded %d times, want 1", n)
	}
	gc := gates.get(gn(t, "c"))
	<-gc.start
	close(gc.open)
}
