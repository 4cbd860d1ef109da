package executor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/executor"
)

// The kill test re-executes the test binary as an executor process (helperEnv set), kills
// it with SIGKILL while a step is running, and starts it again.

const helperEnv = "FRAY_EXECUTOR_KILL_HELPER"

func TestMain(m *testing.M) {
	fray.Init()
	switch os.Getenv(helperEnv) {
	case "":
	case "lease":
		os.Exit(leaseHelper())
	case "cli":
		cliHelper() // exits
	default:
		os.Exit(killHelper())
	}
	os.Exit(m.Run())
}

type killConfig struct {
	Output  executor.Path
	Input   executor.Path
	Control string // directory for the test's signal files
	Block   bool   // wait for <Control>/release before finishing
	Param   executor.Value[string]
}

var killStep = executor.NewStepFn("executor_test.killStep", func(ctx context.Context, c killConfig) error {
	info, _ := executor.StepInfoFrom(ctx)
	name := strings.ReplaceAll(info.Name, "/", "_")
	// runs.log records every start (O_APPEND lines are atomic at this size).
	f, err := os.OpenFile(filepath.Join(c.Control, "runs.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "%s %d\n", info.Name, os.Getpid())
	f.Close()
	if err := os.WriteFile(filepath.Join(c.Control, name+".started"), nil, 0o644); err != nil {
		return err
	}
	if c.Block {
		for {
			if _, err := os.Stat(filepath.Join(c.Control, "release")); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	if err := os.MkdirAll(c.Output.String(), 0o755); err != nil {
		return err
	}
	return os.WriteFile(c.Output.Join("done"), []byte(info.Name), 0o644)
})

func killPipeline(control string) []*executor.Step {
	a := executor.NewStep("kill/a", killStep, killConfig{Output: executor.ThisOutputPath(), Control: control, Param: executor.Versioned("a")})
	b := executor.NewStep("kill/b", killStep, killConfig{Output: executor.ThisOutputPath(), Input: executor.OutputPathOf(a), Control: control, Block: true, Param: executor.Versioned("b")})
	c := executor.NewStep("kill/c", killStep, killConfig{Output: executor.ThisOutputPath(), Input: executor.OutputPathOf(b), Control: control, Param: executor.Versioned("c")})
	return []*executor.Step{c}
}

func killHelper() int {
	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 4, "head_node": 1}, Namespace: "marin"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer jc.Close()
	ctx := fray.WithJobContext(context.Background(), jc)
	control := os.Getenv("KILL_CONTROL")
	// A short lease, so that the rerun after a SIGKILL takes kill/b over in seconds.
	_, err = executor.Run(ctx, executor.Options{Prefix: os.Getenv("KILL_PREFIX"), ExperimentName: "kill", GitCommit: "test",
		LeaseTTL: 5 * time.Second, PollInterval: 50 * time.Millisecond}, killPipeline(control)...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestKillAndResume(t *testing.T) {
	prefix, control := t.TempDir(), t.TempDir()
	plan, err := executor.Plan(prefix, killPipeline(control)...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range plan {
		out[p.Name] = p.OutputPath
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"=1", "KILL_PREFIX="+prefix, "KILL_CONTROL="+control)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	first := start()
	// Wait for kill/b to be running in the first executor, then SIGKILL it. The task can
	// start before the executor has recorded RUNNING (it records after the submission
	// returns), so wait for both.
	waitFile(t, filepath.Join(control, "kill_b.started"), first)
	waitRunning(t, out["kill/b"], first)
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()

	evs := readEvents(t, out["kill/b"])
	if st := evs[len(evs)-1].Status; st != executor.StatusRunning {
		t.Fatalf("after SIGKILL kill/b's status is %s, want RUNNING", st)
	}
	if _, err := os.Stat(filepath.Join(out["kill/c"], executor.StatusFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("kill/c has a status before kill/b finished: %v", err)
	}

	if err := os.WriteFile(filepath.Join(control, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	second := start()
	if err := second.Wait(); err != nil {
		t.Fatalf("second executor: %v", err)
	}
	runs, _ := os.ReadFile(filepath.Join(control, "runs.log"))
	starts := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(runs)), "\n") {
		name, pid, _ := strings.Cut(line, " ")
		starts[name] = append(starts[name], pid)
	}
	if len(starts["kill/a"]) != 1 || len(starts["kill/b"]) != 2 || len(starts["kill/c"]) != 1 {
		t.Fatalf("runs: %v; want a once, b twice (interrupted, then rerun), c once", starts)
	}
	if starts["kill/b"][0] == starts["kill/b"][1] {
		t.Error("kill/b's two runs were in the same process")
	}
	for name, p := range out {
		evs := readEvents(t, p)
		if st := evs[len(evs)-1].Status; st != executor.StatusSuccess {
			t.Errorf("%s: final status %s", name, st)
		}
	}
	if e := readEvents(t, out["kill/a"]); e[len(e)-1].Message != "Step was already successful" {
		t.Errorf("kill/a was not skipped as already successful: %+v", e[len(e)-1])
	}
	var hist []string
	for _, e := range readEvents(t, out["kill/b"]) {
		hist = append(hist, string(e.Status))
	}
	if got := strings.Join(hist, " "); got != "RUNNING RUNNING SUCCESS" {
		t.Errorf("kill/b history %s", got)
	}
}

func waitFile(t *testing.T, p string, cmd *exec.Cmd) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(p); err == nil {
			return
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("%s never appeared", p)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitRunning waits until output's status file ends in RUNNING.
func waitRunning(t *testing.T, output string, cmd *exec.Cmd) {
	t.Helper()
	p := filepath.Join(output, executor.StatusFileName)
	deadline := time.Now().Add(time.Minute)
	for {
		if b, err := os.ReadFile(p); err == nil {
			if evs, err := executor.ParseEvents(p, b); err == nil && len(evs) > 0 && evs[len(evs)-1].Status == executor.StatusRunning {
				return
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("%s never recorded RUNNING", p)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readEvents(t *testing.T, output string) []executor.Event {
	t.Helper()
	p := filepath.Join(output, executor.StatusFileName)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := executor.ParseEvents(p, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 {
		t.Fatalf("%s is empty", p)
	}
	return evs
}
