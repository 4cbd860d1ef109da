// Cases with several executors on one step: two sharing it, ten at once, and takeover
// from an owner that died.

package executortest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fray-go/fray/executor"
)

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
