package local_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/internal/osproc"
)

// Tasks and actors for the process tests. They share nothing with the test through memory
// (they run in worker processes): they coordinate through files.

// ProcView is what a task in a worker process reports about where it runs.
type ProcView struct {
	PID     int
	CUDA    string
	HasCUDA bool
	Env     map[string]string
	Attempt int
}

// BarrierArg makes a task write its pid into Dir and wait until N tasks did.
type BarrierArg struct {
	Dir  string
	N    int
	Keys []string // environment variables to report
}

func view(ctx context.Context, keys []string) ProcView {
	cuda, has := os.LookupEnv("CUDA_VISIBLE_DEVICES")
	info, _ := fray.TaskInfoFrom(ctx)
	v := ProcView{PID: os.Getpid(), CUDA: cuda, HasCUDA: has, Env: map[string]string{}, Attempt: info.Attempt}
	for _, k := range keys {
		if x, ok := os.LookupEnv(k); ok {
			v.Env[k] = x
		}
	}
	return v
}

// writePID records the calling process in dir (atomically, so that a reader never sees a
// partial file).
func writePID(dir string) error {
	pid := strconv.Itoa(os.Getpid())
	tmp := filepath.Join(dir, "."+pid)
	if err := os.WriteFile(tmp, []byte(pid), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, pid))
}

var (
	PView = fray.NewTask("localtest.pview", func(ctx context.Context, keys []string) (ProcView, error) {
		return view(ctx, keys), nil
	})
	// PBarrier waits until a.N tasks have reached it, so that they provably run at once.
	PBarrier = fray.NewTask("localtest.pbarrier", func(ctx context.Context, a BarrierArg) (ProcView, error) {
		if err := writePID(a.Dir); err != nil {
			return ProcView{}, err
		}
		for {
			if n := len(pidFiles(a.Dir)); n >= a.N {
				return view(ctx, a.Keys), nil
			}
			select {
			case <-ctx.Done():
				return ProcView{}, ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	// PHang writes its pid into dir on attempt 0 and then waits for its context (or to be
	// killed); later attempts return their view at once.
	PHang = fray.NewTask("localtest.phang", func(ctx context.Context, dir string) (ProcView, error) {
		info, _ := fray.TaskInfoFrom(ctx)
		if info.Attempt > 0 {
			return view(ctx, nil), nil
		}
		if err := writePID(dir); err != nil {
			return ProcView{}, err
		}
		<-ctx.Done()
		return ProcView{}, ctx.Err()
	})
	PFail = fray.NewTask("localtest.pfail", func(ctx context.Context, _ int) (int, error) {
		return 0, errors.New("fails on purpose")
	})
	// PShell runs a shell command and returns its output.
	PShell = fray.NewTask("localtest.pshell", func(ctx context.Context, script string) (string, error) {
		out, err := exec.CommandContext(ctx, "sh", "-c", script).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("%v: %s", err, out)
		}
		return strings.TrimSpace(string(out)), nil
	})
	// PNested runs PView as a nested task with its own runtime env.
	PNested = fray.NewTask("localtest.pnested", func(ctx context.Context, a NestedArg) (ProcView, error) {
		return PView.Call(ctx, a.Keys, fray.TaskOptions{RuntimeEnv: fray.RuntimeEnv{Env: a.ChildEnv}})
	})
	// PNestedSum submits n Square tasks from a worker process and sums them.
	PNestedSum = fray.NewTask("localtest.pnestedsum", func(ctx context.Context, n int) (int, error) {
		return Nested.Call(ctx, n)
	})

	PCounter = fray.NewActor("localtest.PCounter", func(ctx context.Context, start int) (*PCounterState, error) {
		return &PCounterState{n: start}, nil
	})
	PAdd = fray.NewMethod(PCounter, "Add", func(s *PCounterState, ctx context.Context, d int) (int, error) {
		s.n += d
		return s.n, nil
	})
	PPid = fray.NewMethod(PCounter, "Pid", func(s *PCounterState, ctx context.Context, keys []string) (ProcView, error) {
		return view(ctx, keys), nil
	})
	// PHangMethod writes the actor process's pid into dir and waits for its context.
	PHangMethod = fray.NewMethod(PCounter, "Hang", func(s *PCounterState, ctx context.Context, dir string) (int, error) {
		if err := writePID(dir); err != nil {
			return 0, err
		}
		<-ctx.Done()
		return 0, ctx.Err()
	})
	// PDieOnce records its pid and SIGKILLs its own process the first time (per dir); on a
	// later attempt it returns the state.
	PDieOnce = fray.NewMethod(PCounter, "DieOnce", func(s *PCounterState, ctx context.Context, dir string) (int, error) {
		if len(pidFiles(dir)) == 0 {
			if err := writePID(dir); err != nil {
				return 0, err
			}
			_ = osproc.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		}
		return s.n, nil
	})
)

// NestedArg is PNested's argument.
type NestedArg struct {
	Keys     []string
	ChildEnv map[string]string
}

// PCounterState is PCounter's state.
type PCounterState struct{ n int }

// pidFiles lists the pids recorded in dir.
func pidFiles(dir string) []int {
	ents, _ := os.ReadDir(dir)
	var out []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	sort.Ints(out)
	return out
}

// waitPIDs waits until dir holds n pids (bounded by ctx).
func waitPIDs(t *testing.T, ctx context.Context, dir string, n int) []int {
	t.Helper()
	for {
		if p := pidFiles(dir); len(p) >= n {
			return p
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %d pids in %s: %v", n, dir, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// alive reports whether pid is a running process (not gone, not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return osproc.Kill(pid, 0) == nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// waitGone waits until pid no longer runs; the bound is a safety net, not a timing assertion.
func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: process %d still runs", what, pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testCtx(t *testing.T, ctx context.Context) context.Context {
	c, cancel := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestProcessRouting(t *testing.T) {
	jc, ctx := newJob(t, local.Options{})
	ctx = testCtx(t, ctx)
	me := os.Getpid()
	cases := []struct {
		name    string
		opts    fray.TaskOptions
		process bool
	}{
		{"plain", fray.TaskOptions{}, false},
		{"MaxCalls", fray.TaskOptions{MaxCalls: 3}, true},
		{"Env", fray.TaskOptions{RuntimeEnv: fray.RuntimeEnv{Env: map[string]string{"FRAY_LT": "x"}}}, true},
	}
	for _, c := range cases {
		v, err := PView.Call(ctx, nil, c.opts)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := v.PID != me; got != c.process {
			t.Errorf("%s: ran in a worker process = %v, want %v", c.name, got, c.process)
		}
		// TaskRunsInProcess predicts the placement, with a reason when it is a process.
		if in, why := jc.TaskRunsInProcess(ctx, c.opts); in == c.process || (why == "") == c.process {
			t.Errorf("%s: TaskRunsInProcess = %v, %q; want in-process %v", c.name, in, why, !c.process)
		}
	}
	pjc, pctx := newJob(t, local.Options{Isolation: local.IsolateProcess})
	pctx = testCtx(t, pctx)
	v, err := PView.Call(pctx, nil)
	if err != nil || v.PID == me {
		t.Fatalf("IsolateProcess: %+v, %v; want a worker process", v, err)
	}
	if in, why := pjc.TaskRunsInProcess(pctx, fray.TaskOptions{}); in || !strings.Contains(why, "IsolateProcess") {
		t.Errorf("IsolateProcess: TaskRunsInProcess = %v, %q", in, why)
	}
	// Warm workers are reused when nothing asks for a fresh one.
	v2, err := PView.Call(pctx, nil)
	if err != nil || v2.PID != v.PID {
		t.Errorf("second call ran in %d (%v), want the warm worker %d", v2.PID, err, v.PID)
	}
	// Nested tasks from a worker go through the same scheduler and come back.
	if sum, err := PNestedSum.Call(pctx, 4); err != nil || sum != 0+1+4+9 {
		t.Errorf("nested tasks from a worker: %d, %v", sum, err)
	}
	if _, err := local.New(local.Options{Isolation: 7}); !errors.Is(err, fray.ErrInvalidArgument) {
		t.Errorf("unknown isolation: %v", err)
	}
}

func TestMaxCalls(t *testing.T) {
	_, ctx := newJob(t, local.Options{Resources: fray.Resources{fray.CPU: 1}})
	ctx = testCtx(t, ctx)
	two := fray.TaskOptions{MaxCalls: 2}
	pid := func() int {
		t.Helper()
		v, err := PView.Call(ctx, nil, two)
		if err != nil {
			t.Fatal(err)
		}
		return v.PID
	}
	a, b := pid(), pid()
	if a != b {
		t.Fatalf("MaxCalls 2: calls 1 and 2 ran in %d and %d, want one process", a, b)
	}
	c := pid()
	if c == a {
		t.Fatalf("MaxCalls 2: call 3 ran in the retired process %d", a)
	}
	waitGone(t, a, "a worker past MaxCalls")
	// A failed call counts too.
	if _, err := PFail.Call(ctx, 0, two); err == nil {
		t.Fatal("PFail succeeded")
	}
	if d := pid(); d == c {
		t.Fatalf("the call after a failed one ran in process %d again; failures count towards MaxCalls", c)
	}
}

func TestRuntimeEnvProcess(t *testing.T) {
	_, ctx := newJob(t, local.Options{})
	ctx = testCtx(t, ctx)
	env := fray.RuntimeEnv{Env: map[string]string{"FRAY_LT_A": "a", "FRAY_LT_B": "b"}}
	v, err := PView.Call(ctx, []string{"FRAY_LT_A", "FRAY_LT_B"}, fray.TaskOptions{RuntimeEnv: env})
	if err != nil || v.Env["FRAY_LT_A"] != "a" || v.Env["FRAY_LT_B"] != "b" {
		t.Fatalf("env in the task: %+v, %v", v, err)
	}
	out, err := PShell.Call(ctx, `echo "$FRAY_LT_A-$FRAY_LT_B"`, fray.TaskOptions{RuntimeEnv: env})
	if err != nil || out != "a-b" {
		t.Fatalf("env in a command the task starts: %q, %v", out, err)
	}
	if _, ok := os.LookupEnv("FRAY_LT_A"); ok {
		t.Fatal("the runtime env leaked into the driver")
	}
	// A nested task inherits its parent's env, its own variables winning (Ray's merge).
	n, err := PNested.Call(ctx, NestedArg{Keys: []string{"FRAY_LT_A", "FRAY_LT_B", "FRAY_LT_C"},
		ChildEnv: map[string]string{"FRAY_LT_B": "child", "FRAY_LT_C": "c"}}, fray.TaskOptions{RuntimeEnv: env})
	want := map[string]string{"FRAY_LT_A": "a", "FRAY_LT_B": "child", "FRAY_LT_C": "c"}
	if err != nil || fmt.Sprint(n.Env) != fmt.Sprint(want) {
		t.Fatalf("nested env = %v, %v; want %v", n.Env, err, want)
	}
	// A task without an env sees none of it.
	if v, err := PView.Call(ctx, []string{"FRAY_LT_A"}, fray.TaskOptions{MaxCalls: 1}); err != nil || len(v.Env) != 0 {
		t.Fatalf("a task without a runtime env sees %v, %v", v.Env, err)
	}
	// An actor's env is its process's.
	h, err := PCounter.Create(ctx, 0, fray.ActorOptions{RuntimeEnv: env})
	if err != nil {
		t.Fatal(err)
	}
	if av, err := PPid.Call(ctx, h, []string{"FRAY_LT_A"}); err != nil || av.Env["FRAY_LT_A"] != "a" || av.PID == os.Getpid() {
		t.Fatalf("actor with a runtime env: %+v, %v", av, err)
	}
}

func TestPackageRequirementsFailure(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found")
	}
	_, ctx := newJob(t, local.Options{Workers: local.WorkerOptions{VenvDir: t.TempDir()}})
	// Each attempt builds a virtualenv (failed builds are not cached), which takes seconds.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	// Not a requirement pip can parse: the build fails without touching a package index.
	bad := fray.TaskOptions{RuntimeEnv: fray.RuntimeEnv{PackageRequirements: []string{"this is not ++ a requirement"}}}
	_, err := PView.Call(ctx, nil, bad)
	var re *fray.RuntimeEnvError
	if !errors.As(err, &re) || !errors.Is(err, fray.ErrRuntimeEnv) {
		t.Fatalf("bad requirements: %v (%T), want *fray.RuntimeEnvError", err, err)
	}
	// An actor whose environment cannot be built dies with the reason.
	h, err := PCounter.Create(ctx, 0, fray.ActorOptions{RuntimeEnv: bad.RuntimeEnv})
	if err != nil {
		t.Fatal(err)
	}
	_, err = PAdd.Call(ctx, h, 1)
	if !errors.Is(err, fray.ErrActorDied) || !strings.Contains(err.Error(), "runtime environment") {
		t.Fatalf("call to an actor whose runtime env failed: %v", err)
	}
}

func TestGPUIDs(t *testing.T) {
	jc, ctx := newJob(t, local.Options{Resources: fray.Resources{fray.CPU: 4, fray.GPU: 2}})
	ctx = testCtx(t, ctx)
	run := func(amount float64, n int) []ProcView {
		t.Helper()
		dir := t.TempDir()
		refs := make([]fray.Ref[ProcView], n)
		for i := range refs {
			r, err := PBarrier.Remote(ctx, BarrierArg{Dir: dir, N: n}, fray.TaskOptions{Resources: fray.Resources{fray.GPU: amount}})
			if err != nil {
				t.Fatal(err)
			}
			refs[i] = r
		}
		vs, err := fray.GetAll(ctx, refs)
		if err != nil {
			t.Fatal(err)
		}
		return vs
	}
	whole := run(1, 2)
	ids := []string{whole[0].CUDA, whole[1].CUDA}
	sort.Strings(ids)
	if ids[0] != "0" || ids[1] != "1" {
		t.Errorf("two tasks holding 1 GPU each at once see CUDA_VISIBLE_DEVICES %q, want 0 and 1", ids)
	}
	half := run(0.5, 2)
	if half[0].CUDA != half[1].CUDA || half[0].CUDA == "" || strings.Contains(half[0].CUDA, ",") {
		t.Errorf("two 0.5-GPU tasks see %q and %q, want one shared GPU", half[0].CUDA, half[1].CUDA)
	}
	both := run(2, 1)
	if both[0].CUDA != "0,1" {
		t.Errorf("a 2-GPU task sees %q, want 0,1", both[0].CUDA)
	}
	// GPU tasks default to MaxCalls 1: every call gets a fresh process.
	if whole[0].PID == whole[1].PID || half[0].PID == half[1].PID {
		t.Error("concurrent GPU tasks shared a process")
	}
	a, err := PView.Call(ctx, nil, fray.TaskOptions{Resources: fray.Resources{fray.GPU: 1}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := PView.Call(ctx, nil, fray.TaskOptions{Resources: fray.Resources{fray.GPU: 1}})
	if err != nil || a.PID == b.PID {
		t.Errorf("sequential GPU tasks ran in %d and %d (%v); GPU tasks default to MaxCalls 1", a.PID, b.PID, err)
	}
	// A process task without GPUs sees none of the node's.
	if v, err := PView.Call(ctx, nil, fray.TaskOptions{MaxCalls: 1}); err != nil || !v.HasCUDA || v.CUDA != "" {
		t.Errorf("a task without GPUs: CUDA_VISIBLE_DEVICES = %q (set %v), %v; want set and empty", v.CUDA, v.HasCUDA, err)
	}
	// An actor holding a GPU has it in its process.
	h, err := PCounter.Create(ctx, 0, fray.ActorOptions{Resources: fray.Resources{fray.GPU: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := PPid.Call(ctx, h, nil); err != nil || (v.CUDA != "0" && v.CUDA != "1") {
		t.Errorf("GPU actor sees %q, %v", v.CUDA, err)
	}
	if err := h.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	waitFree(t, jc, fray.GPU, 2)
}

// waitFree waits until the node has amount of resource free again (actors give theirs
// back asynchronously after a kill).
func waitFree(t *testing.T, jc *local.JobContext, resource string, amount float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for jc.Cluster().Available()[resource] != amount {
		if time.Now().After(deadline) {
			t.Fatalf("%s free = %v, want %v", resource, jc.Cluster().Available()[resource], amount)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWorkerKilledMidTask(t *testing.T) {
	jc, ctx := newJob(t, local.Options{Isolation: local.IsolateProcess, Resources: fray.Resources{fray.CPU: 2}})
	ctx = testCtx(t, ctx)
	// With retries: the task runs again in a fresh worker and succeeds.
	dir := t.TempDir()
	ref, err := PHang.Remote(ctx, dir, fray.TaskOptions{MaxRetries: fray.Retries(1)})
	if err != nil {
		t.Fatal(err)
	}
	pid := waitPIDs(t, ctx, dir, 1)[0]
	if pid == os.Getpid() {
		t.Fatal("the task runs in the driver")
	}
	if err := osproc.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	v, err := ref.Get(ctx)
	if err != nil || v.Attempt != 1 || v.PID == pid {
		t.Fatalf("after SIGKILL with MaxRetries 1: %+v, %v; want attempt 1 in a fresh process", v, err)
	}
	// Without retries: a typed worker-died error.
	dir = t.TempDir()
	ref, err = PHang.Remote(ctx, dir, fray.TaskOptions{MaxRetries: fray.Retries(0)})
	if err != nil {
		t.Fatal(err)
	}
	pid = waitPIDs(t, ctx, dir, 1)[0]
	if err := osproc.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, err = ref.Get(ctx)
	var wd *fray.WorkerDiedError
	if !errors.As(err, &wd) || !errors.Is(err, fray.ErrWorkerDied) {
		t.Fatalf("after SIGKILL with Retries(0): %v (%T), want *fray.WorkerDiedError", err, err)
	}
	// The driver is fine and the node's resources are back.
	if v, err := Square.Call(ctx, 5); err != nil || v != 25 {
		t.Fatalf("after the kills: %d, %v", v, err)
	}
	if got := jc.Cluster().Available()[fray.CPU]; got != 2 {
		t.Errorf("CPU free after the kills = %v, want 2", got)
	}
}

func TestForceCancelKillsWorker(t *testing.T) {
	_, ctx := newJob(t, local.Options{})
	ctx = testCtx(t, ctx)
	dir := t.TempDir()
	ref, err := PHang.Remote(ctx, dir, fray.TaskOptions{MaxCalls: 5})
	if err != nil {
		t.Fatal(err)
	}
	pid := waitPIDs(t, ctx, dir, 1)[0]
	if err := fray.Cancel(ctx, ref, true); err != nil {
		t.Fatal(err)
	}
	if _, err := ref.Get(ctx); !errors.Is(err, fray.ErrCancelled) {
		t.Fatalf("Get after force cancel: %v, want cancelled", err)
	}
	waitGone(t, pid, "the worker of a force-cancelled task")
	// Non-force cancel cancels the task's context in its worker, which lives on.
	dir = t.TempDir()
	ref, err = PHang.Remote(ctx, dir, fray.TaskOptions{MaxCalls: 5})
	if err != nil {
		t.Fatal(err)
	}
	pid = waitPIDs(t, ctx, dir, 1)[0]
	if err := fray.Cancel(ctx, ref, false); err != nil {
		t.Fatal(err)
	}
	if _, err := ref.Get(ctx); !errors.Is(err, fray.ErrCancelled) {
		t.Fatalf("Get after cancel: %v, want cancelled", err)
	}
	if _, err := PView.Call(ctx, nil, fray.TaskOptions{MaxCalls: 5}); err != nil {
		t.Fatal(err)
	}
	if !alive(pid) {
		t.Errorf("a plain cancel ended the worker %d; only force kills it", pid)
	}
}

func TestProcessActorKilled(t *testing.T) {
	_, ctx := newJob(t, local.Options{Isolation: local.IsolateProcess})
	ctx = testCtx(t, ctx)
	// No restarts: SIGKILL → the call in flight and later calls fail with ActorDiedError.
	h, err := PCounter.Create(ctx, 10, fray.ActorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := PAdd.Call(ctx, h, 1); err != nil || v != 11 {
		t.Fatalf("Add = %d, %v", v, err)
	}
	dir := t.TempDir()
	hang, err := PHangMethod.Remote(ctx, h, dir)
	if err != nil {
		t.Fatal(err)
	}
	pid := waitPIDs(t, ctx, dir, 1)[0]
	if err := osproc.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := hang.Get(ctx); !errors.Is(err, fray.ErrActorDied) {
		t.Fatalf("call in flight when the actor's process died: %v, want actor died", err)
	}
	if _, err := PAdd.Call(ctx, h, 1); !errors.Is(err, fray.ErrActorDied) {
		t.Fatalf("call after the actor's process died: %v, want actor died", err)
	}

	// MaxRestarts 1: a fresh constructor run in a fresh process, state reset; a second
	// death is final.
	r, err := PCounter.Create(ctx, 100, fray.ActorOptions{MaxRestarts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := PAdd.Call(ctx, r, 5); err != nil || v != 105 {
		t.Fatalf("Add = %d, %v", v, err)
	}
	v0, err := PPid.Call(ctx, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := osproc.Kill(v0.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, v0.PID, "the killed actor process")
	var v1 ProcView
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Calls made while the death is being noticed may fail with ActorDiedError; once
		// the restart is under way they go to the new instance.
		v1, err = PPid.Call(ctx, r, nil)
		if err == nil {
			break
		}
		if !errors.Is(err, fray.ErrActorDied) || time.Now().After(deadline) {
			t.Fatalf("call after restart: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v1.PID == v0.PID {
		t.Fatal("the restarted actor runs in the killed process")
	}
	if v, err := PAdd.Call(ctx, r, 1); err != nil || v != 101 {
		t.Fatalf("Add after restart = %d, %v; want 101 (constructor re-run, state reset)", v, err)
	}
	if err := osproc.Kill(v1.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, v1.PID, "the restarted actor process")
	deadline = time.Now().Add(30 * time.Second)
	for {
		_, err := PAdd.Call(ctx, r, 1)
		if errors.Is(err, fray.ErrActorDied) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("call after the restarts ran out: %v, want actor died", err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// MaxTaskRetries: the call whose process died under it, and the call queued behind it,
	// run again on the restarted actor (in a fresh process, on a fresh state).
	rr, err := PCounter.Create(ctx, 100, fray.ActorOptions{MaxRestarts: 1, MaxTaskRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := PAdd.Call(ctx, rr, 5); err != nil || v != 105 {
		t.Fatalf("Add = %d, %v", v, err)
	}
	dir = t.TempDir()
	die, err := PDieOnce.Remote(ctx, rr, dir)
	if err != nil {
		t.Fatal(err)
	}
	queued, err := PAdd.Remote(ctx, rr, 1)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := die.Get(ctx); err != nil || v != 100 {
		t.Fatalf("call whose process died, with MaxTaskRetries 1: %d, %v; want 100 from the restarted actor", v, err)
	}
	if v, err := queued.Get(ctx); err != nil || v != 101 {
		t.Fatalf("call queued behind it: %d, %v; want 101", v, err)
	}
	if v, err := PPid.Call(ctx, rr, nil); err != nil || v.PID == pidFiles(dir)[0] {
		t.Fatalf("restarted actor: %+v, %v; want a process other than the killed %d", v, err, pidFiles(dir)[0])
	}

	// KillActor kills the process.
	k, err := PCounter.Create(ctx, 0, fray.ActorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := PPid.Call(ctx, k, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	waitGone(t, kv.PID, "a killed actor's process")
	if _, err := PAdd.Call(ctx, k, 1); !errors.Is(err, fray.ErrActorDied) {
		t.Fatalf("call after KillActor: %v", err)
	}
}

func TestProcessIdleReapAndClose(t *testing.T) {
	_, ctx := newJob(t, local.Options{Isolation: local.IsolateProcess, Workers: local.WorkerOptions{IdleTimeout: 50 * time.Millisecond}})
	ctx = testCtx(t, ctx)
	v, err := PView.Call(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitGone(t, v.PID, "an idle worker past IdleTimeout")

	// Close leaves nothing running: a busy task worker, an idle one, an actor's process and
	// a detached actor's process on a private cluster.
	jc, err := local.New(local.Options{Isolation: local.IsolateProcess})
	if err != nil {
		t.Fatal(err)
	}
	jctx := testCtx(t, fray.WithJobContext(context.Background(), jc))
	idle, err := PView.Call(jctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := PHang.Remote(jctx, dir); err != nil {
		t.Fatal(err)
	}
	busy := waitPIDs(t, jctx, dir, 1)[0]
	h, err := PCounter.Create(jctx, 0, fray.ActorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	av, err := PPid.Call(jctx, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := PCounter.Create(jctx, 0, fray.ActorOptions{Lifetime: fray.Detached})
	if err != nil {
		t.Fatal(err)
	}
	dv, err := PPid.Call(jctx, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := jc.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{idle.PID, busy, av.PID, dv.PID} {
		if alive(p) {
			t.Errorf("process %d survived Close", p)
		}
	}
}

func TestDetachedProcessActorOutlivesCreator(t *testing.T) {
	c := newCluster(t, fray.Resources{fray.CPU: 4})
	creator, err := local.New(local.Options{Cluster: c, Isolation: local.IsolateProcess})
	if err != nil {
		t.Fatal(err)
	}
	peer, pctx := newJob(t, local.Options{Cluster: c})
	pctx = testCtx(t, pctx)
	cctx := testCtx(t, fray.WithJobContext(context.Background(), creator))
	h, err := PCounter.Create(cctx, 1, fray.ActorOptions{Lifetime: fray.Detached, Name: "pdetached"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PAdd.Call(cctx, h, 1); err != nil {
		t.Fatal(err)
	}
	_ = creator.Close()
	l, err := PCounter.Lookup(pctx, "pdetached", "")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := PAdd.Call(pctx, l, 1); err != nil || v != 3 {
		t.Fatalf("detached process actor after its creator closed: %d, %v", v, err)
	}
	// The actor's method sees the calling job.
	info, err := CallerJob.Call(pctx, l, 0)
	if err != nil || info != peer.JobID() {
		t.Errorf("job seen by a method called from the peer: %q, %v; want %q", info, err, peer.JobID())
	}
}

// CallerJob returns the job id the method's context carries.
var CallerJob = fray.NewMethod(PCounter, "CallerJob", func(s *PCounterState, ctx context.Context, _ int) (string, error) {
	jc, err := fray.JobContextFrom(ctx)
	if err != nil {
		return "", err
	}
	return jc.JobID(), nil
})

// --- driver death ------------------------------------------------------------------------

const helperEnv = "FRAY_LOCAL_TEST_HELPER"

// runHelper is the test binary re-executed as a driver: it runs a MaxCalls task that hangs
// (recording its worker's pid in the directory named by the helper variable) and waits to
// be killed.
func runHelper() int {
	dir := os.Getenv(helperEnv)
	jc, err := local.New(local.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := fray.WithJobContext(context.Background(), jc)
	if _, err := PHang.Remote(ctx, dir, fray.TaskOptions{MaxCalls: 1}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := PView.Call(ctx, nil, fray.TaskOptions{MaxCalls: 2}); err != nil { // leaves an idle worker
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644); err != nil {
		return 1
	}
	select {}
}

func TestDriverKilledLeavesNoWorker(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ctx := testCtx(t, context.Background())
	for {
		if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the helper driver did not get ready")
		case <-time.After(10 * time.Millisecond):
		}
	}
	worker := waitPIDs(t, ctx, dir, 1)[0]
	children := childrenOf(cmd.Process.Pid)
	if len(children) < 2 {
		t.Fatalf("the helper driver has worker processes %v, want a busy and an idle one", children)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitGone(t, worker, "a busy worker of a SIGKILLed driver")
	for _, p := range children {
		waitGone(t, p, "a worker of a SIGKILLed driver")
	}
}

// childrenOf lists the child processes of pid (from /proc/*/stat).
func childrenOf(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // state, ppid, ...
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, c)
		}
	}
	return out
}
