// Cases with one executor: chains, failures and their dependents, parallel steps,
// MaxConcurrent, run-only, dry run, corrupt status files and merged identical steps.

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
	"testing"
	"time"

	"github.com/fray-go/fray/executor"
)

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
