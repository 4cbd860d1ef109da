package fraytest

import (
	"context"
	"errors"
	"os"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

func optionCases() []testCase {
	return []testCase{
		{"TwoOptionsRejected", testOptTwo},
		{"ZeroRefRejected", testOptZeroRef},
		{"ZeroActorHandleRejected", testOptZeroHandle},
		{"InvalidOptionValuesRejected", testOptInvalid},
	}
}

func testOptTwo(s *env) {
	_, err := square.Remote(s.Ctx, 1, fray.TaskOptions{}, fray.TaskOptions{})
	s.wantErr(err, fray.ErrInvalidArgument, "Remote with two TaskOptions")
	p, err := fray.Put(s.Ctx, 1)
	s.must(err, "Put")
	_, err = addOne.RemoteRef(s.Ctx, p, fray.TaskOptions{}, fray.TaskOptions{})
	s.wantErr(err, fray.ErrInvalidArgument, "RemoteRef with two TaskOptions")
	_, err = Counter.Create(s.Ctx, 0, fray.ActorOptions{}, fray.ActorOptions{})
	s.wantErr(err, fray.ErrInvalidArgument, "Create with two ActorOptions")
	h, err := Counter.Create(s.Ctx, 0)
	s.must(err, "create Counter")
	s.wantErr(h.Kill(s.Ctx, fray.KillOptions{}, fray.KillOptions{}), fray.ErrInvalidArgument, "Kill with two KillOptions")
	if v, err := counterAdd.Call(s.Ctx, h, 1); err != nil || v != 1 {
		s.Fatalf("actor after a refused Kill: Add = %d, %v; want 1", v, err)
	}
}

func testOptZeroRef(s *env) {
	var zero fray.Ref[int]
	_, err := addOne.RemoteRef(s.Ctx, zero)
	s.wantErr(err, fray.ErrInvalidArgument, "RemoteRef with the zero Ref")
	_, err = zero.Get(s.Ctx)
	s.wantErr(err, fray.ErrInvalidArgument, "Get of the zero Ref")
	p, err := fray.Put(s.Ctx, 1)
	s.must(err, "Put")
	_, err = fray.GetAll(s.Ctx, []fray.Ref[int]{p, zero})
	s.wantErr(err, fray.ErrInvalidArgument, "GetAll with a zero Ref")
	_, _, err = fray.Wait(s.Ctx, []fray.AnyRef{p, zero}, 1, 0)
	s.wantErr(err, fray.ErrInvalidArgument, "Wait with a zero Ref")
	s.wantErr(fray.Cancel(s.Ctx, zero, false), fray.ErrInvalidArgument, "Cancel of the zero Ref")
	h, err := Counter.Create(s.Ctx, 0)
	s.must(err, "create Counter")
	_, err = counterAdd.RemoteRef(s.Ctx, h, zero)
	s.wantErr(err, fray.ErrInvalidArgument, "method RemoteRef with the zero Ref")
}

func testOptZeroHandle(s *env) {
	var zero fray.ActorHandle[CounterState]
	_, err := counterAdd.Remote(s.Ctx, zero, 1)
	s.wantErr(err, fray.ErrInvalidArgument, "method call on the zero ActorHandle")
	s.wantErr(zero.Kill(s.Ctx), fray.ErrInvalidArgument, "Kill of the zero ActorHandle")
}

func testOptInvalid(s *env) {
	taskCases := []struct {
		name string
		o    fray.TaskOptions
	}{
		{"MaxCalls -1", fray.TaskOptions{MaxCalls: -1}},
		{"MaxRetries -2", fray.TaskOptions{MaxRetries: fray.Retries(-2)}},
		{"env name with =", fray.TaskOptions{RuntimeEnv: fray.RuntimeEnv{Env: map[string]string{"A=B": "x"}}}},
		{"empty requirement", fray.TaskOptions{RuntimeEnv: fray.RuntimeEnv{PackageRequirements: []string{" "}}}},
	}
	for _, c := range taskCases {
		err := sub(square.Remote(s.Ctx, 1, c.o)).outcome(s)
		if !errors.Is(err, fray.ErrInvalidArgument) {
			s.Errorf("task option %s: got %v, want fray.ErrInvalidArgument", c.name, err)
		}
	}
	actorCases := []struct {
		name string
		o    fray.ActorOptions
	}{
		{"GetIfExists without Name", fray.ActorOptions{GetIfExists: true}},
		{"unknown Lifetime", fray.ActorOptions{Lifetime: fray.Lifetime(7)}},
		{"MaxConcurrency -1", fray.ActorOptions{MaxConcurrency: -1}},
		{"MaxRestarts -2", fray.ActorOptions{MaxRestarts: -2}},
		{"MaxTaskRetries -2", fray.ActorOptions{MaxRestarts: 1, MaxTaskRetries: -2}},
	}
	for _, c := range actorCases {
		_, err := Counter.Create(s.Ctx, 0, c.o)
		if !errors.Is(err, fray.ErrInvalidArgument) {
			s.Errorf("actor option %s: got %v, want fray.ErrInvalidArgument", c.name, err)
		}
	}
}

func lifecycleCases() []testCase {
	return []testCase{
		{"ClosedJobContextRefusesWork", testLifeClosed},
		{"CloseEndsPendingGets", testLifeCloseGets},
		{"JobContextsAreIndependent", testLifeIndependent},
	}
}

func testLifeClosed(s *env) {
	h, err := Counter.Create(s.Ctx, 0)
	s.must(err, "create Counter")
	s.must(s.JC.Close(), "Close")
	_, err = square.Remote(s.Ctx, 1)
	s.wantErr(err, fray.ErrClosed, "Remote on a closed job context")
	_, err = fray.Put(s.Ctx, 1)
	s.wantErr(err, fray.ErrClosed, "Put on a closed job context")
	_, err = Counter.Create(s.Ctx, 0)
	s.wantErr(err, fray.ErrClosed, "Create on a closed job context")
	_, err = counterAdd.Remote(s.Ctx, h, 1)
	s.wantErr(err, fray.ErrClosed, "method call on a closed job context")
	if err := s.JC.Close(); err != nil && !errors.Is(err, fray.ErrClosed) {
		s.Errorf("second Close: %v", err)
	}
}

func testLifeCloseGets(s *env) {
	rec := s.recorder()
	ref, err := waitForCancel.Remote(s.Ctx, Cancellable{Rec: rec, StartKey: "start", DoneKey: "done"})
	s.must(err, "submit")
	s.await(rec, "start", 1)
	s.must(s.JC.Close(), "Close with a task running")
	_, err = ref.Get(s.Ctx)
	if err == nil || !(errors.Is(err, fray.ErrClosed) || errors.Is(err, fray.ErrCancelled)) {
		s.Fatalf("Get of a task whose job context closed: %v; want fray.ErrClosed or fray.ErrCancelled", err)
	}
}

func testLifeIndependent(s *env) {
	_, other := s.fresh(Options{})
	name := uniq("fraytest-indep")
	_, err := Counter.Create(s.Ctx, 1, fray.ActorOptions{Name: name})
	s.must(err, "create named actor")
	// A fresh (non-peer) job context shares no job-scoped names.
	h, err := Counter.Create(other, 2, fray.ActorOptions{Name: name})
	s.must(err, "the same name on an independent job context")
	s.must(s.JC.Close(), "close the first job context")
	if v := sub(square.Remote(other, 5)).getIn(s, other); v != 25 {
		s.Fatalf("square on the other job context after the first closed = %d", v)
	}
	if v, err := counterValue.Call(other, h, struct{}{}); err != nil || v != 2 {
		s.Fatalf("other job's actor after the first closed: %d, %v; want 2", v, err)
	}
}

func capabilityCases() []testCase {
	return []testCase{
		{"MaxCallsFreshProcess", testCapMaxCalls},
		{"RuntimeEnvVisibleToTask", testCapRuntimeEnv},
		{"RuntimeEnvInheritedByNestedTasks", testCapNestedEnv},
		{"RuntimeEnvDoesNotLeak", testCapEnvNoLeak},
	}
}

// unsupported asserts that a backend without process tasks refused an option.
func (s *env) unsupported(err error, what string) {
	s.Helper()
	s.wantErr(err, fray.ErrUnsupported, what+" on a backend without process tasks")
	var ue *fray.UnsupportedError
	if !errors.As(err, &ue) {
		s.Errorf("%v is not a *fray.UnsupportedError naming the feature", err)
	}
}

func testCapMaxCalls(s *env) {
	one := fray.TaskOptions{MaxCalls: 1}
	if !s.b.Caps.ProcessTasks {
		s.unsupported(sub(getpid.Remote(s.Ctx, 0, one)).outcome(s), "MaxCalls")
		return
	}
	driver := os.Getpid()
	seen := map[int]bool{}
	for i := 0; i < 3; i++ {
		pid := sub(getpid.Remote(s.Ctx, i, one)).get(s)
		if pid == driver {
			s.Fatalf("a MaxCalls task ran in the driver process %d", pid)
		}
		if seen[pid] {
			s.Fatalf("call %d ran in process %d again; MaxCalls 1 must give every call a fresh process", i, pid)
		}
		seen[pid] = true
	}
}

func testCapRuntimeEnv(s *env) {
	val := uniq("value")
	env := fray.TaskOptions{RuntimeEnv: fray.RuntimeEnv{Env: map[string]string{"FRAYTEST_ENV": val}}}
	if !s.b.Caps.ProcessTasks {
		s.unsupported(sub(getenv.Remote(s.Ctx, "FRAYTEST_ENV", env)).outcome(s), "RuntimeEnv.Env")
		return
	}
	if got := sub(getenv.Remote(s.Ctx, "FRAYTEST_ENV", env)).get(s); got != val {
		s.Fatalf("os.Getenv in the task = %q, want %q", got, val)
	}
	if os.Getenv("FRAYTEST_ENV") == val {
		s.Fatal("the task's RuntimeEnv leaked into the driver's environment")
	}
}

func testCapNestedEnv(s *env) {
	val := uniq("inherited")
	env := fray.TaskOptions{RuntimeEnv: fray.RuntimeEnv{Env: map[string]string{"FRAYTEST_NESTED": val}}}
	if !s.b.Caps.ProcessTasks {
		s.unsupported(sub(nestedGetenv.Remote(s.Ctx, "FRAYTEST_NESTED", env)).outcome(s), "RuntimeEnv.Env")
		return
	}
	if got := sub(nestedGetenv.Remote(s.Ctx, "FRAYTEST_NESTED", env)).get(s); got != val {
		s.Fatalf("a nested task sees FRAYTEST_NESTED = %q, want its parent's %q (a child's env merges with its parent's)", got, val)
	}
}

func testCapEnvNoLeak(s *env) {
	val := uniq("private")
	if s.b.Caps.ProcessTasks {
		env := fray.TaskOptions{RuntimeEnv: fray.RuntimeEnv{Env: map[string]string{"FRAYTEST_PRIVATE": val}}}
		if got := sub(getenv.Remote(s.Ctx, "FRAYTEST_PRIVATE", env)).get(s); got != val {
			s.Fatalf("task with env saw %q", got)
		}
	}
	for i := 0; i < 3; i++ {
		if got := sub(getenv.Remote(s.Ctx, "FRAYTEST_PRIVATE", fray.TaskOptions{})).get(s); got != "" {
			s.Fatalf("a task without a RuntimeEnv sees FRAYTEST_PRIVATE = %q set for another task", got)
		}
	}
}

func patternCases() []testCase {
	// Pattern 6 (Ray Data) is out of fray's scope by Marin's own decision (MIGRATION.md, Pattern 6); it has no test.
	return []testCase{
		{"Pattern1_RemoteTask", testPattern1},
		{"Pattern2_Actor", testPattern2},
		{"Pattern3_GetAndWait", testPattern3},
		{"Pattern4_Resources", testPattern4},
		{"Pattern5_RuntimeEnv", testPattern5},
		{"Pattern7_ExecutorStyleLaunch", testPattern7},
		{"Pattern8_ContextInit", testPattern8},
	}
}

func testPattern1(s *env) {
	// options = TaskOptions(max_calls=1, resources={"TPU": 4})
	// ref = ctx.create_task(process_file, (input_path, output_path), options=options)
	// The accelerator is the declared cluster's: its TPUs where it has 4, else one of the
	// suite's scarce resource, which stands for any device a task must hold alone.
	options := fray.TaskOptions{MaxCalls: 1, Resources: fray.Resources{s.b.Scarce: 1}}
	if s.offers(fray.TPU, 4) {
		options.Resources = fray.Resources{fray.TPU: 4}
	}
	ref, err := processFile.Remote(s.Ctx, FilePair{"gs://in/a.jsonl", "gs://out/a.jsonl"}, options)
	if !s.b.Caps.ProcessTasks {
		s.unsupported(sub(ref, err).outcome(s), "MaxCalls")
		return
	}
	if got := sub(ref, err).get(s); got != "gs://in/a.jsonl -> gs://out/a.jsonl" {
		s.Fatalf("process_file = %q", got)
	}
}

func testPattern2(s *env) {
	// ActorOptions(name="status_actor", get_if_exists=True, lifetime=DETACHED,
	//              resources={"CPU": 0, "head_node": 0.0001})
	// (with the suite's own name and namespace, and the head node only where one is declared)
	options := s.statusOptions()
	actor, err := StatusActor.Create(s.Ctx, 10_000, options)
	s.must(err, "create_actor(StatusActor)")
	killAtCleanup(s, s.Ctx, actor)
	// result = ctx.get(actor.get_value("key"))
	result, err := statusGet.Call(s.Ctx, actor, "key")
	if err != nil || result != "" {
		s.Fatalf("get_value(key) on a new StatusActor = %q, %v", result, err)
	}
	if _, err := statusSet.Call(s.Ctx, actor, KV{"key", "value"}); err != nil {
		s.Fatalf("SetValue: %v", err)
	}
	again, err := StatusActor.Create(s.Ctx, 1, options)
	s.must(err, "create_actor again (get_if_exists)")
	if again.ID() != actor.ID() {
		s.Fatal("get_if_exists created a second actor")
	}
	if v, err := statusGet.Call(s.Ctx, again, "key"); err != nil || v != "value" {
		s.Fatalf("get_value(key) = %q, %v; want value", v, err)
	}
}

func testPattern3(s *env) {
	items := []int{1, 2, 3, 4, 5, 6}
	refs := make([]fray.Ref[int], len(items))
	for i, x := range items {
		r, err := square.Remote(s.Ctx, x)
		s.must(err, "create_task")
		refs[i] = r
	}
	// results = ctx.get(refs)
	results, err := fray.GetAll(s.Ctx, refs)
	s.must(err, "get(refs)")
	for i, x := range items {
		if results[i] != x*x {
			s.Fatalf("results[%d] = %d, want %d", i, results[i], x*x)
		}
	}
	// done_refs, pending_refs = ctx.wait(refs, num_returns=3, timeout=...)
	more := make([]fray.Ref[int], len(items))
	for i, x := range items {
		r, err := square.Remote(s.Ctx, x+10)
		s.must(err, "create_task")
		more[i] = r
	}
	done, pending, err := fray.WaitRefs(s.Ctx, more, 3, fray.Forever)
	s.must(err, "wait(refs, num_returns=3)")
	if len(done) != 3 || len(pending) != 3 {
		s.Fatalf("wait: %d done, %d pending; want 3 and 3", len(done), len(pending))
	}
	doneResults, err := fray.GetAll(s.Ctx, done)
	s.must(err, "get(done_refs)")
	pos := map[backend.ObjectID]int{}
	for i, r := range more {
		pos[r.ID()] = i
	}
	last := -1
	for j, r := range done {
		i := pos[r.ID()]
		if i <= last {
			s.Errorf("done refs are not in input order")
		}
		last = i
		if doneResults[j] != (items[i]+10)*(items[i]+10) {
			s.Errorf("done result %d = %d, want %d", j, doneResults[j], (items[i]+10)*(items[i]+10))
		}
	}
}

func testPattern4(s *env) {
	// resources={"CPU": 4, "GPU": 1, "memory": 8*1024**3, "TPU": 8, "TPU-v4-32-head": 1},
	// scaled to the declared cluster: MinimumResources, one of the scarce custom resource in
	// place of "TPU-v4-32-head", and TPUs and a GPU where the cluster declares them.
	res := fray.Resources{fray.CPU: 2, fray.Memory: 1 << 30, s.b.Scarce: 1}
	if s.offers(fray.TPU, 4) {
		res[fray.TPU] = 4
	}
	if s.offers(fray.GPU, 1) {
		res[fray.GPU] = 1
	}
	options := fray.TaskOptions{Resources: res}
	if v := sub(square.Remote(s.Ctx, 12, options)).get(s); v != 144 {
		s.Fatalf("big_task = %d", v)
	}
	// The Ray keyword spellings are refused with the right key named (pitfall 3).
	err := sub(square.Remote(s.Ctx, 1, fray.TaskOptions{Resources: fray.Resources{"num_cpus": 4}})).outcome(s)
	s.wantErr(err, fray.ErrInvalidResources, "num_cpus")
	s.wantContains(err, "num_cpus", `"CPU"`)
	err = sub(square.Remote(s.Ctx, 1, fray.TaskOptions{Resources: fray.Resources{"num_gpus": 1}})).outcome(s)
	s.wantErr(err, fray.ErrInvalidResources, "num_gpus")
	s.wantContains(err, "num_gpus", `"GPU"`)
}

func testPattern5(s *env) {
	// runtime_env = RuntimeEnv(env={"PJRT_DEVICE": "TPU"}); options = TaskOptions(runtime_env=...)
	marker := uniq("pattern5")
	runtimeEnv := fray.RuntimeEnv{Env: map[string]string{"PJRT_DEVICE": "TPU", "FRAYTEST_PATTERN5": marker}}
	options := fray.TaskOptions{RuntimeEnv: runtimeEnv}
	if !s.b.Caps.ProcessTasks {
		s.unsupported(sub(getenv.Remote(s.Ctx, "PJRT_DEVICE", options)).outcome(s), "RuntimeEnv")
		return
	}
	if got := sub(getenv.Remote(s.Ctx, "FRAYTEST_PATTERN5", options)).get(s); got != marker {
		s.Fatalf("FRAYTEST_PATTERN5 in the task = %q, want %q", got, marker)
	}
	if got := sub(getenv.Remote(s.Ctx, "PJRT_DEVICE", options)).get(s); got != "TPU" {
		s.Fatalf("PJRT_DEVICE in the task = %q, want TPU", got)
	}
}

func testPattern7(s *env) {
	// self.status_actor = ctx.create_actor(StatusActor, options=ActorOptions(name="status_actor",
	//     get_if_exists=True, lifetime=DETACHED, resources={"CPU": 0, "head_node": 0.0001}))
	// in the namespace the executor initialises (here, the subtest's own).
	status := createStatusActor(s, s.Ctx)
	step := uniq("tokenize")
	name := "runStep:" + step // f"{get_fn_name(step.fn, short=True)}:{step.name}"
	cfg := StepConfig{Status: status, Step: step, EnvKey: "FRAYTEST_STEP_ENV"}
	withEnv := fray.TaskOptions{Name: name, RuntimeEnv: fray.RuntimeEnv{Env: map[string]string{"FRAYTEST_STEP_ENV": step}}}
	ref, err := runStep.Remote(s.Ctx, cfg, withEnv)
	var rep StepReport
	if s.b.Caps.ProcessTasks {
		rep = sub(ref, err).get(s)
		if rep.Env != step {
			s.Errorf("step saw FRAYTEST_STEP_ENV = %q, want %q", rep.Env, step)
		}
	} else {
		s.unsupported(sub(ref, err).outcome(s), "RuntimeEnv")
		rep = sub(runStep.Remote(s.Ctx, cfg, fray.TaskOptions{Name: name})).get(s)
	}
	if rep.Name != name {
		s.Errorf("step task name = %q, want %q", rep.Name, name)
	}
	if rep.Status != "RUNNING" {
		s.Errorf("step status = %q, want RUNNING", rep.Status)
	}
	if v, err := statusGet.Call(s.Ctx, status, step); err != nil || v != "RUNNING" {
		s.Errorf("executor reads status %q, %v; want RUNNING", v, err)
	}
}

func testPattern8(s *env) {
	prev, prevErr := fray.JobContextFrom(context.Background())
	fray.SetDefaultJobContext(s.JC)
	s.Cleanup(func() {
		if prevErr == nil {
			fray.SetDefaultJobContext(prev)
		} else {
			fray.SetDefaultJobContext(nil)
		}
	})
	// set_job_context(ctx); ctx = get_job_context(); ref = ctx.create_task(some_task, (args,))
	bctx, cancel := context.WithTimeout(context.Background(), s.b.Timeout)
	defer cancel()
	jc, err := fray.JobContextFrom(bctx)
	s.must(err, "get_job_context")
	if jc.JobID() != s.JC.JobID() {
		s.Fatalf("default job context is %q, want %q", jc.JobID(), s.JC.JobID())
	}
	ref, err := square.Remote(bctx, 9)
	s.must(err, "Remote through the default job context")
	if ref.JobID() != s.JC.JobID() {
		s.Errorf("ref job = %q, want %q", ref.JobID(), s.JC.JobID())
	}
	v, err := ref.Get(bctx)
	if err != nil || v != 81 {
		s.Fatalf("Get = %d, %v; want 81", v, err)
	}
	// Nested tasks inherit the job context without anything extra.
	info, err := nestedInfo.Call(bctx, struct{}{})
	s.must(err, "nested task through the default job context")
	if info.JobID != s.JC.JobID() || info.CtxJobID != s.JC.JobID() {
		s.Errorf("nested task job = %q (ctx %q), want %q", info.JobID, info.CtxJobID, s.JC.JobID())
	}
	// WithJobContext wins over the default.
	other, octx := s.fresh(Options{})
	oref, err := square.Remote(octx, 3)
	s.must(err, "Remote through WithJobContext")
	if oref.JobID() != other.JobID() {
		s.Errorf("with both set, the ref belongs to %q, want the ctx's %q", oref.JobID(), other.JobID())
	}
	if w := sub(oref, nil).getIn(s, octx); w != 9 {
		s.Errorf("square(3) = %d", w)
	}
	// Clearing the default brings back the pitfall-1 error.
	fray.SetDefaultJobContext(nil)
	_, err = square.Remote(bctx, 1)
	s.wantErr(err, fray.ErrNoJobContext, "Remote after clearing the default")
}
