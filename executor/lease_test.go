package executor_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/executor"
	"github.com/fray-go/fray/executor/cli"
	"github.com/fray-go/fray/storage"
)

// These tests run real executor processes on one file prefix: the test binary re-executed
// (helperEnv=lease or cli) as a small executor driver, each with its own local backend, so
// nothing is shared between them but the files, as with two overlapping cron runs.
//
// Control files (in LEASE_CONTROL):
//   runs.log                 one "<step> <pid>" line per start of a step function (O_APPEND)
//   <step>.started.<pid>     the step function started in that process
//   <step>.waiting.<pid>     that executor is waiting for another executor's lease on step
//   release                  blocking steps may finish

type leaseConfig struct {
	Output  executor.Path
	Input   executor.Path
	Control string
	Block   bool // wait for <Control>/release before finishing
	Partial bool // keep a write of data.bin open (unpublished) while blocked
	Param   executor.Value[string]
}

var leaseStep = executor.NewStepFn("executor_test.leaseStep", func(ctx context.Context, c leaseConfig) error {
	info, _ := executor.StepInfoFrom(ctx)
	name := strings.ReplaceAll(info.Name, "/", "_")
	f, err := os.OpenFile(filepath.Join(c.Control, "runs.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "%s %d\n", info.Name, os.Getpid())
	f.Close()
	var w *storage.Writer
	if c.Partial {
		fs, err := storage.Open(ctx, c.Output.String())
		if err != nil {
			return err
		}
		defer fs.Close()
		if w, err = fs.NewWriter(ctx, "data.bin"); err != nil {
			return err
		}
		if _, err := w.Write(bytes.Repeat([]byte("x"), 1<<16)); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(c.Control, fmt.Sprintf("%s.started.%d", name, os.Getpid())), nil, 0o644); err != nil {
		return err
	}
	for c.Block {
		if _, err := os.Stat(filepath.Join(c.Control, "release")); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	if w != nil {
		if err := w.Close(); err != nil {
			return err
		}
	}
	return os.WriteFile(c.Output.Join("done"), []byte(info.Name), 0o644)
})

// leasePipeline: a -> b, and c on its own. a blocks (and, with partial, holds an open write).
func leasePipeline(control string, partial bool) []*executor.Step {
	a := executor.NewStep("lease/a", leaseStep, leaseConfig{Output: executor.ThisOutputPath(), Control: control, Block: true, Partial: partial, Param: executor.Versioned("a")})
	b := executor.NewStep("lease/b", leaseStep, leaseConfig{Output: executor.ThisOutputPath(), Input: executor.OutputPathOf(a), Control: control, Param: executor.Versioned("b")})
	c := executor.NewStep("lease/c", leaseStep, leaseConfig{Output: executor.ThisOutputPath(), Control: control, Block: true, Param: executor.Versioned("c")})
	return []*executor.Step{b, c}
}

// leaseHelper is one executor process: executor.Run on its own local backend.
func leaseHelper() int {
	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 4, "head_node": 1}, Namespace: "marin"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer jc.Close()
	ctx := fray.WithJobContext(context.Background(), jc)
	control := os.Getenv("LEASE_CONTROL")
	ttl, _ := time.ParseDuration(os.Getenv("LEASE_TTL"))
	_, err = executor.Run(ctx, executor.Options{
		Prefix: os.Getenv("LEASE_PREFIX"), ExperimentName: "lease", GitCommit: "test",
		LeaseTTL: ttl, PollInterval: 20 * time.Millisecond, PrefixEnv: executor.PrefixEnvNever,
		Observer: func(u executor.Update) {
			if u.State == executor.StateWaiting {
				name := strings.ReplaceAll(u.Step, "/", "_")
				_ = os.WriteFile(filepath.Join(control, fmt.Sprintf("%s.waiting.%d", name, os.Getpid())), []byte(u.Message), 0o644)
			}
		},
	}, leasePipeline(control, os.Getenv("LEASE_PARTIAL") != "")...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "executor:", err)
		return 1
	}
	return 0
}

// cliHelper runs the pipeline through the executor's command line (cli.Main), which turns
// SIGINT into a cancelled run.
func cliHelper() {
	os.Args = []string{os.Args[0], "--prefix", os.Getenv("LEASE_PREFIX"), "--experiment-name", "lease"}
	cli.Main(leasePipeline(os.Getenv("LEASE_CONTROL"), false)...)
}

type leaseEnv struct {
	t       *testing.T
	prefix  string
	control string
	out     map[string]string // step name -> output path
}

func newLeaseEnv(t *testing.T, partial bool) *leaseEnv {
	e := &leaseEnv{t: t, prefix: t.TempDir(), control: t.TempDir(), out: map[string]string{}}
	plan, err := executor.Plan(e.prefix, leasePipeline(e.control, partial)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plan {
		e.out[p.Name] = p.OutputPath
	}
	return e
}

type proc struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan error
}

// start starts one executor process in mode ("lease" or "cli").
func (e *leaseEnv) start(mode string, ttl time.Duration, partial bool) *proc {
	e.t.Helper()
	p := &proc{cmd: exec.Command(os.Args[0], "-test.run=^$"), done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), helperEnv+"="+mode, "LEASE_PREFIX="+e.prefix, "LEASE_CONTROL="+e.control,
		"LEASE_TTL="+ttl.String())
	if partial {
		p.cmd.Env = append(p.cmd.Env, "LEASE_PARTIAL=1")
	}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	e.t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if e.t.Failed() {
			e.t.Logf("process %d stderr:\n%s", p.cmd.Process.Pid, p.stderr.String())
		}
	})
	return p
}

// wait waits for the process to exit and returns its error.
func (p *proc) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		return err
	case <-time.After(3 * time.Minute):
		t.Fatalf("process %d did not exit; stderr:\n%s", p.cmd.Process.Pid, p.stderr.String())
		return nil
	}
}

// eventually polls cond until it holds (generous deadline, no timing claims).
func (e *leaseEnv) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("waiting for %s: still not true after 2m", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *leaseEnv) marks(kind, step string) []string {
	m, _ := filepath.Glob(filepath.Join(e.control, strings.ReplaceAll(step, "/", "_")+"."+kind+".*"))
	return m
}

// runs returns, per step, the pids that started it, in order.
func (e *leaseEnv) runs() map[string][]string {
	b, _ := os.ReadFile(filepath.Join(e.control, "runs.log"))
	out := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if name, pid, ok := strings.Cut(line, " "); ok {
			out[name] = append(out[name], pid)
		}
	}
	return out
}

func (e *leaseEnv) release() {
	if err := os.WriteFile(filepath.Join(e.control, "release"), nil, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func statuses(evs []executor.Event) string {
	var s []string
	for _, ev := range evs {
		s = append(s, string(ev.Status))
	}
	return strings.Join(s, " ")
}

// TestConcurrentProcessesRunEachStepOnce starts two and ten executor processes on one
// prefix at once. Only the lease beside each output orders them (each process has its own
// local cluster and StatusActor). Each step must run exactly once, every other process
// must wait for the owner while it runs and then skip the step as already successful, and
// no status event may be lost.
func TestConcurrentProcessesRunEachStepOnce(t *testing.T) {
	for _, n := range []int{2, 10} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			e := newLeaseEnv(t, false)
			procs := make([]*proc, n)
			for i := range procs {
				procs[i] = e.start("lease", time.Minute, false)
			}
			// Overlap for certain: a and c are held running in one process each while all the
			// other processes report that they are waiting for them.
			e.eventually("one process to run lease/a and lease/c and the others to wait", func() bool {
				for _, step := range []string{"lease/a", "lease/c"} {
					if m := e.marks("started", step); len(m) > 1 {
						t.Fatalf("%s is running in %d processes at once: %v", step, len(m), m)
					}
				}
				return len(e.marks("started", "lease/a")) == 1 && len(e.marks("waiting", "lease/a")) == n-1 &&
					len(e.marks("started", "lease/c")) == 1 && len(e.marks("waiting", "lease/c")) == n-1
			})
			e.release()
			for _, p := range procs {
				if err := p.wait(t); err != nil {
					t.Fatalf("executor process %d: %v\n%s", p.cmd.Process.Pid, err, p.stderr.String())
				}
			}
			runs := e.runs()
			for name, out := range e.out {
				if len(runs[name]) != 1 {
					t.Errorf("%s ran %d times (pids %v), want once", name, len(runs[name]), runs[name])
				}
				evs := readEvents(t, out)
				want := "RUNNING SUCCESS" + strings.Repeat(" SUCCESS", n-1)
				if got := statuses(evs); got != want {
					t.Errorf("%s: status history %q, want %q (one run, %d skips)", name, got, want, n-1)
				}
				owners := map[string]bool{}
				for _, ev := range evs {
					owners[ev.TaskID] = true
				}
				if len(owners) != n {
					t.Errorf("%s: events from %d executors, want %d", name, len(owners), n)
				}
				if evs[0].TaskID != evs[1].TaskID {
					t.Errorf("%s: RUNNING by %s but SUCCESS by %s", name, evs[0].TaskID, evs[1].TaskID)
				}
			}
		})
	}
}

// TestLeaseTakeoverAfterSIGKILL: the owner of a running step is SIGKILLed while another
// process waits for it. The waiter must not run the step while the owner lives, and takes
// it over once the dead owner's lease expires.
func TestLeaseTakeoverAfterSIGKILL(t *testing.T) {
	e := newLeaseEnv(t, false)
	const ttl = 5 * time.Second
	owner := e.start("lease", ttl, false)
	e.eventually("the first process to run lease/a", func() bool { return len(e.marks("started", "lease/a")) == 1 })
	waiter := e.start("lease", ttl, false)
	e.eventually("the second process to wait for lease/a", func() bool { return len(e.marks("waiting", "lease/a")) == 1 })
	if got := e.runs()["lease/a"]; len(got) != 1 {
		t.Fatalf("lease/a started %d times while its owner was alive", len(got))
	}
	if err := owner.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = owner.wait(t)
	e.release()
	if err := waiter.wait(t); err != nil {
		t.Fatalf("waiting executor: %v\n%s", err, waiter.stderr.String())
	}
	runs := e.runs()
	ownerPID, waiterPID := strconv.Itoa(owner.cmd.Process.Pid), strconv.Itoa(waiter.cmd.Process.Pid)
	if got := runs["lease/a"]; len(got) != 2 || got[0] != ownerPID || got[1] != waiterPID {
		t.Fatalf("lease/a runs by pid %v, want the killed owner %s then the waiter %s", got, ownerPID, waiterPID)
	}
	if !strings.Contains(waiter.stderr.String(), "took over an expired step lease") {
		t.Errorf("the waiter did not log the takeover:\n%s", waiter.stderr.String())
	}
	evs := readEvents(t, e.out["lease/a"])
	if got := statuses(evs); got != "RUNNING RUNNING SUCCESS" {
		t.Errorf("lease/a history %q, want RUNNING (killed owner) RUNNING SUCCESS (waiter)", got)
	}
	for name, out := range e.out {
		if evs := readEvents(t, out); evs[len(evs)-1].Status != executor.StatusSuccess {
			t.Errorf("%s: final status %s", name, evs[len(evs)-1].Status)
		}
	}
}

func statusOf(t *testing.T, prefix, output string) executor.StepStatus {
	t.Helper()
	sts, err := executor.ListStatuses(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sts {
		if s.OutputPath == output || filepath.Clean(s.OutputPath) == filepath.Clean(output) {
			return s
		}
	}
	t.Fatalf("no status for %s in %+v", output, sts)
	return executor.StepStatus{}
}

// TestStatusAfterSIGINT interrupts a run of the executor's command line with SIGINT while
// a step runs: the summary must call the step interrupted (not "not reached"), and status
// must show it CANCELLED at once (its lease was released on the way out), not RUNNING.
func TestStatusAfterSIGINT(t *testing.T) {
	e := newLeaseEnv(t, false)
	p := e.start("cli", 0, false)
	e.eventually("lease/a and lease/c to run", func() bool {
		return len(e.marks("started", "lease/a")) == 1 && len(e.marks("started", "lease/c")) == 1
	})
	if s := statusOf(t, e.prefix, e.out["lease/a"]); s.Status != executor.StatusRunning {
		t.Fatalf("while running, lease/a shows %s, want RUNNING", s.Status)
	}
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t); err == nil {
		t.Fatal("an interrupted run exited 0")
	}
	out := p.stdout.String()
	for _, name := range []string{"lease/a", "lease/c"} {
		if !regexpLine(out, name, string(executor.StateInterrupted)) {
			t.Errorf("summary does not show %s as interrupted:\n%s", name, out)
		}
	}
	if !regexpLine(out, "lease/b", string(executor.StateNotRun)) {
		t.Errorf("summary does not show lease/b (never started) as not run:\n%s", out)
	}
	if !strings.Contains(out, "2 interrupted") || !strings.Contains(out, "1 not reached") {
		t.Errorf("summary counts wrong:\n%s", out)
	}
	for _, name := range []string{"lease/a", "lease/c"} {
		s := statusOf(t, e.prefix, e.out[name])
		if s.Status != executor.StatusCancelled || s.Last.Status != executor.StatusRunning {
			t.Errorf("%s after SIGINT: status %s (last event %s), want CANCELLED computed from RUNNING", name, s.Status, s.Last.Status)
		}
	}
	var b bytes.Buffer
	if err := cli.PrintStatus(context.Background(), &b, e.prefix); err != nil {
		t.Fatal(err)
	}
	if !regexpLine(b.String(), "lease/a", "CANCELLED") || strings.Contains(b.String(), "RUNNING") {
		t.Errorf("status output:\n%s", b.String())
	}
}

// regexpLine reports whether some line of text starts with a name that begins with step
// and has word as a whole field.
func regexpLine(text, step, word string) bool {
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.HasPrefix(f[0], step) {
			continue
		}
		for _, x := range f[1:] {
			if x == word {
				return true
			}
		}
	}
	return false
}

// TestSIGKILLMidStep kills an executor process with SIGKILL while a step is running and
// holds an unpublished write open. Its status then shows CANCELLED once the dead owner's
// lease has expired, and the next run reruns the step after removing the temporary file
// the killed write left (and only that one).
func TestSIGKILLMidStep(t *testing.T) {
	e := newLeaseEnv(t, true)
	const ttl = 5 * time.Second
	p := e.start("lease", ttl, true)
	e.eventually("lease/a to run", func() bool { return len(e.marks("started", "lease/a")) == 1 })
	tmps := func() []string {
		m, _ := filepath.Glob(filepath.Join(e.out["lease/a"], "data.bin.*.tmp"))
		return m
	}
	if len(tmps()) != 1 {
		t.Fatalf("the open write left %v, want one temporary file", tmps())
	}
	// A temporary file that is not lease/a's: in another directory under the prefix.
	foreign := filepath.Join(e.prefix, "elsewhere", "x.bin.abc123.tmp")
	if err := os.MkdirAll(filepath.Dir(foreign), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(foreign, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.wait(t)
	e.eventually("status to show lease/a CANCELLED after its lease expired", func() bool {
		return statusOf(t, e.prefix, e.out["lease/a"]).Status == executor.StatusCancelled
	})
	s := statusOf(t, e.prefix, e.out["lease/a"])
	if s.Last.Status != executor.StatusRunning || s.Lease == nil || s.Lease.Live(time.Now()) {
		t.Fatalf("lease/a: last event %s, lease %+v", s.Last.Status, s.Lease)
	}
	stale := tmps()[0]
	e.release()
	again := e.start("lease", ttl, true)
	if err := again.wait(t); err != nil {
		t.Fatalf("rerun: %v\n%s", err, again.stderr.String())
	}
	if got := e.runs()["lease/a"]; len(got) != 2 {
		t.Fatalf("lease/a ran %d times, want 2 (killed, rerun)", len(got))
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the killed write's temporary file %s is still there (%v)", stale, err)
	}
	if left := tmps(); len(left) != 0 {
		t.Errorf("temporary files left in lease/a: %v", left)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("a temporary file outside lease/a's output was removed: %v", err)
	}
	if st := statusOf(t, e.prefix, e.out["lease/a"]); st.Status != executor.StatusSuccess {
		t.Errorf("lease/a after the rerun: %s", st.Status)
	}
}
