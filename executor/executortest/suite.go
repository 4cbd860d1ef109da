// Package executortest is the executor's behaviour suite, written against the fray API only
// so that it runs unchanged on every backend. A backend's test calls Run with a function
// that starts a cluster for one test and returns a factory of job contexts attached to it:
//
//	func TestExecutor(t *testing.T) {
//		executortest.Run(t, executortest.Env{Cluster: func(t *testing.T) executortest.NewJob {
//			c, _ := local.NewCluster(local.ClusterOptions{Resources: fray.Resources{"CPU": 8, "head_node": 1}})
//			t.Cleanup(func() { c.Close() })
//			return func(t *testing.T) backend.JobContext { jc, _ := local.New(local.Options{Cluster: c}); return jc }
//		}})
//	}
//
// The suite reproduces Marin's executor tests: a two-step chain's paths and order, the
// force-run-failed sequence, dependents of a failed step, two executors sharing a step, ten
// concurrent executors on one step, independent steps in parallel (a barrier, not timing),
// MaxConcurrent, run-only selection, dry run, corrupt status files and takeover from dead
// owners. Outputs go to t.TempDir(), so a remote backend must share the test's filesystem.
package executortest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/executor"
)

// NewJob returns a new job context attached to the test's cluster. The suite closes it.
type NewJob func(t *testing.T) backend.JobContext

// Env describes the backend under test.
type Env struct {
	// Cluster starts (or connects to) a cluster for one test and returns a factory of job
	// contexts on it. The cluster needs a "head_node" resource and at least 4 CPUs.
	Cluster func(t *testing.T) NewJob
}

// Run runs every test of the suite as a subtest.
func Run(t *testing.T, env Env) {
	tests := []struct {
		name string
		fn   func(*testing.T, *harness)
	}{
		{"TwoStepChain", testTwoStepChain},
		{"ForceRunFailed", testForceRunFailed},
		{"DependentsOfFailedStep", testDependentsOfFailed},
		{"TwoExecutorsShareStep", testTwoExecutorsShareStep},
		{"TenExecutorsOneStep", testTenExecutors},
		{"IndependentStepsInParallel", testParallel},
		{"MaxConcurrent", testMaxConcurrent},
		{"RunOnly", testRunOnly},
		{"DryRun", testDryRun},
		{"CorruptStatusFile", testCorruptStatus},
		{"TakeOverFromDeadOwner", testDeadOwner},
		{"DedupIdenticalGraphs", testDedup},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			newJob := env.Cluster(t)
			h := &harness{t: t, newJob: newJob, prefix: t.TempDir()}
			h.ctx = h.job()
			h.control = newControlName()
			ctl, err := Control.Create(h.ctx, struct{}{}, fray.ActorOptions{Name: h.control, Namespace: controlNamespace,
				Lifetime: fray.Detached, Resources: fray.Resources{"CPU": 0}})
			if err != nil {
				t.Fatalf("creating the control actor: %v", err)
			}
			h.ctl = ctl
			t.Cleanup(func() { _ = ctl.Kill(context.Background()) })
			tc.fn(t, h)
		})
	}
}

type harness struct {
	t       *testing.T
	newJob  NewJob
	prefix  string
	ctx     context.Context
	control string
	ctl     fray.ActorHandle[controlState]
}

// job attaches a new job context and returns a ctx carrying it.
func (h *harness) job() context.Context {
	jc := h.newJob(h.t)
	h.t.Cleanup(func() { _ = jc.Close() })
	return fray.WithJobContext(context.Background(), jc)
}

func (h *harness) step(name, param string, inputs ...*executor.Step) *executor.Step {
	c := StepConfig{Output: executor.ThisOutputPath(), Param: executor.Versioned(param), Control: h.control}
	for _, in := range inputs {
		c.Inputs = append(c.Inputs, executor.OutputPathOf(in))
	}
	return executor.NewStep(name, Record, c)
}

func (h *harness) with(s *executor.Step, f func(*StepConfig)) *executor.Step {
	c := s.Config.(StepConfig)
	f(&c)
	s.Config = c
	return s
}

// opts returns run options for tests: short polls and a logger into the test log.
func (h *harness) opts() executor.Options {
	return executor.Options{Prefix: h.prefix, PollInterval: 20 * time.Millisecond, Logger: testLogger(h.t),
		ExperimentName: "executortest", GitCommit: "test"}
}

func (h *harness) run(ctx context.Context, o executor.Options, steps ...*executor.Step) (*executor.Report, error) {
	return executor.Run(ctx, o, steps...)
}

func (h *harness) count(key string) int {
	h.t.Helper()
	n, err := count.Call(h.ctx, h.ctl, key)
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) set(flag string) {
	h.t.Helper()
	if _, err := setFlag.Call(h.ctx, h.ctl, flag); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) events(output string) []executor.Event {
	h.t.Helper()
	p := filepath.Join(output, executor.StatusFileName)
	b, err := os.ReadFile(p)
	if err != nil {
		h.t.Fatal(err)
	}
	evs, err := executor.ParseEvents(p, b)
	if err != nil {
		h.t.Fatal(err)
	}
	return evs
}

func last(evs []executor.Event) executor.Event {
	if len(evs) == 0 {
		return executor.Event{}
	}
	return evs[len(evs)-1]
}

func byName(r *executor.Report) map[string]executor.StepReport {
	m := map[string]executor.StepReport{}
	if r != nil {
		for _, s := range r.Steps {
			m[s.Name] = s
		}
	}
	return m
}

func testTwoStepChain(t *testing.T, h *harness) {
	a := h.step("data/a", "1")
	b := h.step("b", "2", a)
	rep, err := h.run(h.ctx, h.opts(), b)
	if err != nil {
		t.Fatal(err)
	}
	m := byName(rep)
	pa, pb := m["data/a"].OutputPath, m["b"].OutputPath
	if !strings.HasPrefix(pa, filepath.Join(h.prefix, "data", "a-")) || len(pa) != len(filepath.Join(h.prefix, "data", "a-"))+6 {
		t.Errorf("a's output path %s is not <prefix>/data/a-<6 hex>", pa)
	}
	if rep.Steps[0].Name != "data/a" || rep.Steps[1].Name != "b" {
		t.Errorf("report order %s, %s; want dependency order", rep.Steps[0].Name, rep.Steps[1].Name)
	}
	out, err := os.ReadFile(filepath.Join(pb, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "data/a 1\nb 2\n" {
		t.Errorf("b's output %q: a did not run before b, or b did not read a's output path", out)
	}
	for _, p := range []string{pa, pb} {
		if st := last(h.events(p)).Status; st != executor.StatusSuccess {
			t.Errorf("%s: last status %s", p, st)
		}
		if _, err := os.Stat(filepath.Join(p, executor.InfoFileName)); err != nil {
			t.Errorf("no info record: %v", err)
		}
	}
	if _, err := os.Stat(rep.ExperimentPath); err != nil || !strings.HasPrefix(rep.ExperimentPath, filepath.Join(h.prefix, "experiments", "executortest-")) {
		t.Errorf("experiment record %s: %v", rep.ExperimentPath, err)
	}
	// Second run: nothing runs again; each step records that it was already successful.
	rep2, err := h.run(h.ctx, h.opts(), b)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rep2.Steps {
		if s.State != executor.StateSkipped {
			t.Errorf("second run: %s is %s, want skipped", s.Name, s.State)
		}
	}
	if h.count("run:data/a") != 1 || h.count("run:b") != 1 {
		t.Errorf("runs a=%d b=%d, want 1 each", h.count("run:data/a"), h.count("run:b"))
	}
	if e := last(h.events(pb)); e.Message != "Step was already successful" {
		t.Errorf("second run's event %+v", e)
	}
}

func testForceRunFailed(t *testing.T, h *harness) {
	s := h.with(h.step("flaky", "x"), func(c *StepConfig) { c.FailFlag = "fail" })
	h.set("fail")
	_, err := h.run(h.ctx, h.opts(), s)
	var re *executor.RunError
	if !errors.As(err, &re) || len(re.Failed) != 1 || re.Failed[0] != "flaky" || !strings.Contains(err.Error(), "on purpose") {
		t.Fatalf("first run: %v", err)
	}
	// Refused without force: the step does not run again.
	_, err = h.run(h.ctx, h.opts(), s)
	if !errors.Is(err, executor.ErrFailedPreviously) || !strings.Contains(err.Error(), "failed previously") {
		t.Fatalf("second run: %v, want a failed-previously error", err)
	}
	if n := h.count("run:flaky"); n != 1 {
		t.Fatalf("step ran %d times after the refusal, want 1", n)
	}
	// Forced, with the cause fixed: runs and succeeds.
	s = h.with(s, func(c *StepConfig) { c.FailFlag = "fixed" })
	o := h.opts()
	o.ForceRunFailed = true
	rep, err := h.run(h.ctx, o, s)
	if err != nil {
		t.Fatalf("forced run: %v", err)
	}
	if n := h.count("run:flaky"); n != 2 || rep.Steps[0].State != executor.StateSucceeded {
		t.Fatalf("forced run: ran %d times, state %s", n, rep.Steps[0].State)
	}
	var sts []executor.Status
	for _, e := range h.events(rep.Steps[0].OutputPath) {
		sts = append(sts, e.Status)
	}
	want := "[RUNNING FAILED RUNNING SUCCESS]"
	if fmt.Sprint(sts) != want {
		t.Errorf("status history %v, want %s", sts, want)
	}
}

func testDependentsOfFailed(t *testing.T, h *harness) {
	a := h.with(h.step("a", "x"), func(c *StepConfig) { c.FailFlag = "fail" })
	b := h.step("b", "x", a)
	c := h.step("c", "x", b)
	ok := h.step("independent", "x")
	h.set("fail")
	rep, err := h.run(h.ctx, h.opts(), c, ok)
	var re *executor.RunError
	if !errors.As(err, &re) || fmt.Sprint(re.Failed) != "[a]" || fmt.Sprint(re.DepFailed) != "[b c]" {
		t.Fatalf("err = %v", err)
	}
	m := byName(rep)
	if m["b"].State != executor.StateDepFailed || m["c"].State != executor.StateDepFailed || m["independent"].State != executor.StateSucceeded {
		t.Errorf("states: b %s c %s independent %s", m["b"].State, m["c"].State, m["independent"].State)
	}
	if h.count("run:b")+h.count("run:c") != 0 {
		t.Error("a dependent of a failed step ran")
	}
	if st := last(h.events(m["c"].OutputPath)).Status; st != executor.StatusDepFailed {
		t.Errorf("c's status file says %s", st)
	}
}

// waitFor polls an observer-fed condition.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if err := pollUntil(context.Background(), 2*time.Minute, func() (bool, error) { return cond(), nil }); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

type observed struct {
	mu     sync.Mutex
	states map[string]executor.State
}

func (o *observed) observer(u executor.Update) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.states == nil {
		o.states = map[string]executor.State{}
	}
	o.states[u.Step] = u.State
}

func (o *observed) is(step string, st executor.State) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.states[step] == st
}

func testTwoExecutorsShareStep(t *testing.T, h *harness) {
	shared := h.with(h.step("shared", "s"), func(c *StepConfig) { c.Gate = "go" })
	x := h.step("only-in-1", "x", shared)
	// A different experiment that builds the same shared step from scratch.
	shared2 := h.with(h.step("shared", "s"), func(c *StepConfig) { c.Gate = "go" })
	y := h.step("only-in-2", "y", shared2)

	var o1, o2 observed
	type res struct {
		rep *executor.Report
		err error
	}
	r1, r2 := make(chan res, 1), make(chan res, 1)
	ctx1, ctx2 := h.job(), h.job()
	go func() {
		opts := h.opts()
		opts.Observer = o1.observer
		rep, err := h.run(ctx1, opts, x)
		r1 <- res{rep, err}
	}()
	waitFor(t, "executor 1 to run the shared step", func() bool { return h.count("run:shared") == 1 })
	go func() {
		opts := h.opts()
		opts.Observer = o2.observer
		rep, err := h.run(ctx2, opts, y)
		r2 <- res{rep, err}
	}()
	waitFor(t, "executor 2 to wait for executor 1", func() bool { return o2.is("shared", executor.StateWaiting) })
	h.set("go")
	a, b := <-r1, <-r2
	if a.err != nil || b.err != nil {
		t.Fatalf("errors: %v / %v", a.err, b.err)
	}
	if n := h.count("run:shared"); n != 1 {
		t.Fatalf("shared step ran %d times, want 1", n)
	}
	m1, m2 := byName(a.rep), byName(b.rep)
	if m1["shared"].State != executor.StateSucceeded || m2["shared"].State != executor.StateSkipped {
		t.Errorf("shared: executor 1 %s, executor 2 %s", m1["shared"].State, m2["shared"].State)
	}
	if m1["shared"].OutputPath != m2["shared"].OutputPath {
		t.Errorf("shared step has two output paths: %s, %s", m1["shared"].OutputPath, m2["shared"].OutputPath)
	}
	if e := last(h.events(m1["shared"].OutputPath)); e.Status != executor.StatusSuccess || e.Message != "Step was already successful" {
		t.Errorf("last event %+v, want executor 2's 'already successful'", e)
	}
	if h.count("run:only-in-1") != 1 || h.count("run:only-in-2") != 1 {
		t.Error("the experiments' own steps did not both run once")
	}
}

func testTenExecutors(t *testing.T, h *harness) {
	const n = 10
	obs := make([]observed, n)
	errs := make(chan error, n)
	states := make(chan executor.State, n)
	for i := 0; i < n; i++ {
		ctx := h.job()
		s := h.with(h.step("contended", "c"), func(c *StepConfig) { c.Gate = "go" })
		go func(i int) {
			opts := h.opts()
			opts.Observer = obs[i].observer
			rep, err := h.run(ctx, opts, s)
			if err == nil {
				states <- rep.Steps[0].State
			}
			errs <- err
		}(i)
	}
	waitFor(t, "one executor to run the step and nine to wait", func() bool {
		waiting := 0
		for i := range obs {
			if obs[i].is("contended", executor.StateWaiting) {
				waiting++
			}
		}
		return waiting == n-1 && h.count("run:contended") == 1
	})
	h.set("go")
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Errorf("executor: %v", err)
		}
	}
	close(states)
	got := map[executor.State]int{}
	for s := range states {
		got[s]++
	}
	if c := h.count("run:contended"); c != 1 || got[executor.StateSucceeded] != 1 || got[executor.StateSkipped] != n-1 {
		t.Fatalf("runs %d, outcomes %v; want 1 run, 1 succeeded, %d skipped", c, got, n-1)
	}
}

func testParallel(t *testing.T, h *harness) {
	// Each step waits at a barrier until both have arrived: the run can only finish if the
	// executor runs them at the same time.
	a := h.with(h.step("left", "l"), func(c *StepConfig) { c.Barrier = 2 })
	b := h.with(h.step("right", "r"), func(c *StepConfig) { c.Barrier = 2 })
	ctx, cancel := context.WithTimeout(h.ctx, 3*time.Minute)
	defer cancel()
	if _, err := h.run(ctx, h.opts(), a, b); err != nil {
		t.Fatal(err)
	}
}

func testMaxConcurrent(t *testing.T, h *harness) {
	var steps []*executor.Step
	for i := 0; i < 4; i++ {
		steps = append(steps, h.with(h.step(fmt.Sprintf("s%d", i), "x"), func(c *StepConfig) { c.Track = true }))
	}
	o := h.opts()
	o.MaxConcurrent = 1
	if _, err := h.run(h.ctx, o, steps...); err != nil {
		t.Fatal(err)
	}
	mx, err := maxRunning.Call(h.ctx, h.ctl, struct{}{})
	if err != nil {
		t.Fatal(err)
	}
	if mx != 1 {
		t.Errorf("%d steps ran at once with MaxConcurrent 1", mx)
	}
}

func testRunOnly(t *testing.T, h *harness) {
	a := h.step("prep/a", "a")
	b := h.step("prep/b", "b", a)
	c := h.step("train/c", "c", b)
	d := h.step("eval/d", "d")
	var logs bytes.Buffer
	o := h.opts()
	o.Logger = slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))
	o.RunOnly = []string{"^prep/b$", "nomatch"}
	rep, err := h.run(h.ctx, o, c, d)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(names(rep)); got != "[prep/a prep/b]" {
		t.Errorf("run set %s, want [prep/a prep/b]", got)
	}
	if !strings.Contains(logs.String(), "nomatch") {
		t.Errorf("no warning for the unmatched pattern in: %s", logs.String())
	}
	// Now prep/a and prep/b succeeded: selecting train/c brings no already-successful deps.
	o.RunOnly = []string{"train"}
	rep, err = h.run(h.ctx, o, c, d)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(names(rep)); got != "[train/c]" {
		t.Errorf("run set %s, want [train/c]", got)
	}
	if h.count("run:eval/d") != 0 || h.count("run:prep/a") != 1 || h.count("run:train/c") != 1 {
		t.Error("run-only ran the wrong steps")
	}
	o.RunOnly = []string{"("}
	if _, err := h.run(h.ctx, o, c); err == nil || !strings.Contains(err.Error(), "run-only pattern") {
		t.Errorf("bad regex: %v", err)
	}
}

func names(r *executor.Report) []string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, s.Name)
	}
	return out
}

func testDryRun(t *testing.T, h *harness) {
	a := h.step("a", "a")
	b := h.step("b", "b", a)
	f := h.with(h.step("f", "f"), func(c *StepConfig) { c.FailFlag = "fail" })
	h.set("fail")
	o := h.opts()
	o.RunOnly = []string{"^a$", "^f$"}
	_, _ = h.run(h.ctx, o, b, f) // a succeeds, f fails
	o = h.opts()
	o.DryRun = true
	rep, err := h.run(h.ctx, o, b, f)
	if err != nil {
		t.Fatal(err)
	}
	m := byName(rep)
	if m["a"].Action != executor.ActionSkip || m["b"].Action != executor.ActionRun || m["f"].Action != executor.ActionFail {
		t.Errorf("plan: a %s, b %s, f %s; want skip, run, fail", m["a"].Action, m["b"].Action, m["f"].Action)
	}
	if h.count("run:b") != 0 {
		t.Error("dry run ran a step")
	}
	if _, err := os.Stat(filepath.Join(m["b"].OutputPath, executor.StatusFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dry run wrote a status file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(m["b"].OutputPath, executor.InfoFileName)); err != nil {
		t.Errorf("dry run did not write b's info record: %v", err)
	}
	var out bytes.Buffer
	executor.PrintPlan(&out, rep)
	if !strings.Contains(out.String(), "skip") || !strings.Contains(out.String(), m["b"].OutputPath) {
		t.Errorf("plan text:\n%s", out.String())
	}
	o.ForceRunFailed = true
	rep, _ = h.run(h.ctx, o, f)
	if rep.Steps[0].Action != executor.ActionRun {
		t.Errorf("forced dry run of a failed step: %s", rep.Steps[0].Action)
	}
}

func testCorruptStatus(t *testing.T, h *harness) {
	a := h.step("a", "a")
	plan, err := executor.Plan(h.prefix, a)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(plan[0].OutputPath, executor.StatusFileName)
	_ = os.MkdirAll(filepath.Dir(p), 0o755)
	for _, content := range []string{
		`{"date":"x","status":"SUCCESS","message":"","task_id":""}` + "\n{not json\n",
		`{"date":"x","status":"SUCCEEDED","message":"","task_id":""}` + "\n",
	} {
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := h.run(h.ctx, h.opts(), a)
		var se *executor.StatusFileError
		if !errors.As(err, &se) || se.Path != p || !strings.Contains(err.Error(), p) {
			t.Fatalf("err = %v, want a *StatusFileError naming %s", err, p)
		}
		if strings.Contains(content, "not json") && se.Line != 2 {
			t.Errorf("line %d, want 2", se.Line)
		}
		if b, _ := os.ReadFile(p); string(b) != content {
			t.Error("the executor rewrote a status file it could not read")
		}
	}
	if h.count("run:a") != 0 {
		t.Error("a step with a corrupt status file ran")
	}
}

func testDeadOwner(t *testing.T, h *harness) {
	a := h.step("interrupted", "a")
	plan, err := executor.Plan(h.prefix, a)
	if err != nil {
		t.Fatal(err)
	}
	out := plan[0].OutputPath
	// A previous executor died while running the step: its RUNNING event is in the status
	// file and it still holds the lock in the StatusActor.
	const dead = "fray-executor-0000000000dead00"
	_ = os.MkdirAll(out, 0o755)
	ev := `{"date":"2024-01-01T00:00:00Z","status":"RUNNING","message":"","task_id":"` + dead + `"}` + "\n"
	if err := os.WriteFile(filepath.Join(out, executor.StatusFileName), []byte(ev), 0o644); err != nil {
		t.Fatal(err)
	}
	sa, err := executor.GetStatusActor(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := executor.CompareAndSetOwner.Call(h.ctx, sa, executor.CASArgs{Path: out, Owner: dead}); err != nil || !r.Swapped {
		t.Fatalf("planting the dead owner: %v %+v", err, r)
	}
	rep, err := h.run(h.ctx, h.opts(), a)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Steps[0].State != executor.StateSucceeded || h.count("run:interrupted") != 1 {
		t.Fatalf("state %s, runs %d", rep.Steps[0].State, h.count("run:interrupted"))
	}
	if owner, err := executor.GetOwner.Call(h.ctx, sa, out); err != nil || owner != "" {
		t.Errorf("owner after the run: %q %v (want released)", owner, err)
	}
}

func testDedup(t *testing.T, h *harness) {
	a1 := h.step("a", "same")
	a2 := h.step("a", "same")
	b1 := h.step("b1", "x", a1)
	b2 := h.step("b2", "y", a2)
	rep, err := h.run(h.ctx, h.opts(), b1, b2)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Steps) != 3 || h.count("run:a") != 1 {
		t.Fatalf("%d steps planned, a ran %d times; want 3 and 1", len(rep.Steps), h.count("run:a"))
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// testLogger logs into the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
