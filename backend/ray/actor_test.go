package ray_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/ray"
	"github.com/fray-go/fray/internal/osproc"
)

// Counter is an actor whose state lives in the Go child of a Ray actor process.
type Counter struct {
	N int

	mu      sync.Mutex
	arrived int
	all     chan struct{}
}

var (
	CounterActor = fray.NewActor("raytest.Counter", func(ctx context.Context, start int) (*Counter, error) {
		if start < 0 {
			return nil, errors.New("negative start")
		}
		return &Counter{N: start, all: make(chan struct{})}, nil
	})
	CounterAdd = fray.NewMethod(CounterActor, "Add", func(c *Counter, ctx context.Context, d int) (int, error) {
		c.N += d
		return c.N, nil
	})
	// SleepSignalled tells the counter it started, then sleeps until its ctx is cancelled (or
	// the duration passes): a test can cancel it knowing it is really running.
	SleepSignalled = fray.NewTask("raytest.sleepSignalled", func(ctx context.Context, a SleepArgs) (int, error) {
		if _, err := CounterAdd.Call(ctx, a.Started, 1); err != nil {
			return 0, err
		}
		select {
		case <-time.After(a.D):
			return 1, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	CounterPID = fray.NewMethod(CounterActor, "PID", func(c *Counter, ctx context.Context, _ int) (int, error) {
		return os.Getpid(), nil
	})
	// CounterDieOnce SIGKILLs its own process the first time (leaving a marker file) and
	// returns the state on a later attempt.
	CounterDieOnce = fray.NewMethod(CounterActor, "DieOnce", func(c *Counter, ctx context.Context, marker string) (int, error) {
		if _, err := os.Stat(marker); err != nil {
			if err := os.WriteFile(marker, []byte("x"), 0o644); err != nil {
				return 0, err
			}
			_ = osproc.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		}
		return c.N, nil
	})
	// CounterMeet returns once n calls are inside it at the same time (or fails after a
	// minute): it can only succeed when the actor runs calls concurrently.
	CounterMeet = fray.NewMethod(CounterActor, "Meet", func(c *Counter, ctx context.Context, n int) (bool, error) {
		c.mu.Lock()
		c.arrived++
		if c.arrived == n {
			close(c.all)
		}
		c.mu.Unlock()
		select {
		case <-c.all:
			return true, nil
		case <-time.After(time.Minute):
			return false, errors.New("the other calls never arrived: calls did not run concurrently")
		}
	})
)

func TestActors(t *testing.T) {
	_, ctx := connect(t, ray.Options{Namespace: "raytest-actors-" + fmt.Sprint(time.Now().UnixNano())})
	h, err := CounterActor.Create(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	// FIFO per caller: 50 calls submitted without waiting see 11..60 in order
	refs := make([]fray.Ref[int], 50)
	for i := range refs {
		refs[i], err = CounterAdd.Remote(ctx, h, 1)
		if err != nil {
			t.Fatal(err)
		}
	}
	vs, err := fray.GetAll(ctx, refs)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		if v != 11+i {
			t.Fatalf("call %d saw %d: calls ran out of order", i, v)
		}
	}
	// a constructor failure makes the actor dead
	bad, err := CounterActor.Create(ctx, -1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = CounterAdd.Call(ctx, bad, 1)
	if !errors.Is(err, fray.ErrActorDied) {
		t.Fatalf("call on an actor whose constructor failed: want ErrActorDied, got %v", err)
	}
	// named, get-if-exists (ignores the new argument), lookup, name taken
	n1, err := CounterActor.Create(ctx, 100, fray.ActorOptions{Name: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	n2, err := CounterActor.Create(ctx, 5, fray.ActorOptions{Name: "c1", GetIfExists: true})
	if err != nil || n2.ID() != n1.ID() {
		t.Fatalf("GetIfExists: %v, %v vs %v", err, n2.ID(), n1.ID())
	}
	if v, err := CounterAdd.Call(ctx, n2, 1); err != nil || v != 101 {
		t.Fatalf("GetIfExists must keep the first constructor's state: %d, %v", v, err)
	}
	if _, err := CounterActor.Create(ctx, 5, fray.ActorOptions{Name: "c1"}); !errors.Is(err, fray.ErrNameTaken) {
		t.Fatalf("duplicate name: want ErrNameTaken, got %v", err)
	}
	l, err := CounterActor.Lookup(ctx, "c1", "")
	if err != nil || l.ID() != n1.ID() {
		t.Fatalf("Lookup: %v", err)
	}
	if _, err := CounterActor.Lookup(ctx, "nope", ""); !errors.Is(err, fray.ErrUnknownName) {
		t.Fatalf("Lookup of a missing name: want ErrUnknownName, got %v", err)
	}
	// kill: later calls fail with ErrActorDied
	if err := n1.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := CounterAdd.Call(ctx, n1, 1); !errors.Is(err, fray.ErrActorDied) {
		t.Fatalf("call after Kill: want ErrActorDied, got %v", err)
	}
}

func TestActorMaxConcurrency(t *testing.T) {
	_, ctx := connect(t, ray.Options{})
	h, err := CounterActor.Create(ctx, 0, fray.ActorOptions{MaxConcurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	var refs []fray.Ref[bool]
	for i := 0; i < 3; i++ {
		r, err := CounterMeet.Remote(ctx, h, 3)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	if _, err := fray.GetAll(ctx, refs); err != nil {
		t.Fatal(err)
	}
}

func TestActorProcessKilled(t *testing.T) {
	_, ctx := connect(t, ray.Options{})
	// without restarts: the actor is dead
	h, err := CounterActor.Create(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := CounterPID.Call(ctx, h, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := osproc.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := CounterAdd.Call(ctx, h, 1); !errors.Is(err, fray.ErrActorDied) {
		t.Fatalf("after SIGKILL: want ErrActorDied, got %v", err)
	}
	// with a restart: a fresh constructor run (state back to the start) in a new process
	h2, err := CounterActor.Create(ctx, 1, fray.ActorOptions{MaxRestarts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := CounterAdd.Call(ctx, h2, 5); err != nil || v != 6 {
		t.Fatalf("Add = %d, %v", v, err)
	}
	pid, err = CounterPID.Call(ctx, h2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := osproc.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Calls racing the restart may fail with ErrActorDied (Ray's ActorUnavailableError);
	// once restarted the state is the constructor's again.
	var v int
	for i := 0; i < 60; i++ {
		v, err = CounterAdd.Call(ctx, h2, 1)
		if err == nil || !errors.Is(err, fray.ErrActorDied) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil || v != 2 {
		t.Fatalf("after restart: Add = %d, %v (want 2: the constructor ran again)", v, err)
	}
	pid2, err := CounterPID.Call(ctx, h2, 0)
	if err != nil || pid2 == pid {
		t.Fatalf("after restart: pid %d (before %d), %v", pid2, pid, err)
	}
	// with MaxTaskRetries, the call whose process died under it and the call queued behind
	// it run again on the restarted actor (fresh state), in either order: Ray resubmits the
	// retried call, which may then run after the queued one
	h3, err := CounterActor.Create(ctx, 100, fray.ActorOptions{MaxRestarts: 1, MaxTaskRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := CounterAdd.Call(ctx, h3, 5); err != nil || v != 105 {
		t.Fatalf("Add = %d, %v", v, err)
	}
	die, err := CounterDieOnce.Remote(ctx, h3, filepath.Join(t.TempDir(), "died"))
	if err != nil {
		t.Fatal(err)
	}
	queued, err := CounterAdd.Remote(ctx, h3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := die.Get(ctx); err != nil || (v != 100 && v != 101) {
		t.Fatalf("call whose process died, with MaxTaskRetries 1: %d, %v; want 100 or 101 from the restarted actor", v, err)
	}
	if v, err := queued.Get(ctx); err != nil || v != 101 {
		t.Fatalf("call queued behind it: %d, %v; want 101", v, err)
	}
}

var (
	// KillOnce SIGKILLs its own process on the first attempt (leaving a marker file) and
	// succeeds on a retry.
	KillOnce = fray.NewTask("raytest.killonce", func(ctx context.Context, marker string) (string, error) {
		if _, err := os.Stat(marker); err != nil {
			if err := os.WriteFile(marker, []byte("x"), 0o644); err != nil {
				return "", err
			}
			_ = osproc.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		}
		return "survived", nil
	})
)

func TestWorkerKilledMidTask(t *testing.T) {
	_, ctx := connect(t, ray.Options{})
	dir := t.TempDir()
	r, err := KillOnce.Remote(ctx, filepath.Join(dir, "a"), fray.TaskOptions{MaxRetries: fray.Retries(1)})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := r.Get(ctx); err != nil || v != "survived" {
		t.Fatalf("with MaxRetries 1: %q, %v", v, err)
	}
	r, err = KillOnce.Remote(ctx, filepath.Join(dir, "b"), fray.TaskOptions{MaxRetries: fray.Retries(0)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Get(ctx)
	var wd *fray.WorkerDiedError
	if !errors.As(err, &wd) || !errors.Is(err, fray.ErrWorkerDied) {
		t.Fatalf("with MaxRetries 0: want *fray.WorkerDiedError, got %T %v", err, err)
	}
}

func TestTaskOptions(t *testing.T) {
	jc, ctx := connect(t, ray.Options{Env: map[string]string{"FRAY_JOB_VAR": "job"}})
	// the cluster's totals, as ray.cluster_resources() has them (scripts/ray-cluster.sh)
	total, err := jc.ClusterResources(ctx)
	if err != nil || total["head_node"] != 1 || total["CPU"] < 1 {
		t.Fatalf("ClusterResources: %v, %v", total, err)
	}
	// MaxCalls: every call gets a fresh Ray worker process, hence a fresh Go child
	seen := map[int]bool{}
	for i := 0; i < 3; i++ {
		pid, err := PID.Call(ctx, 0, fray.TaskOptions{MaxCalls: 1})
		if err != nil {
			t.Fatal(err)
		}
		if seen[pid] {
			t.Fatalf("MaxCalls 1: pid %d ran two calls", pid)
		}
		seen[pid] = true
	}
	// RuntimeEnv.Env reaches the Go task; the job's Options.Env too
	opts := fray.TaskOptions{RuntimeEnv: fray.RuntimeEnv{Env: map[string]string{"FRAY_TASK_VAR": "task"}}}
	if v, err := Env.Call(ctx, "FRAY_TASK_VAR", opts); err != nil || v != "task" {
		t.Fatalf("task env: %q, %v", v, err)
	}
	if v, err := Env.Call(ctx, "FRAY_JOB_VAR", opts); err != nil || v != "job" {
		t.Fatalf("job env under a task env: %q, %v", v, err)
	}
	// custom and fractional resources schedule; infeasible ones fail fast
	if v, err := Square.Call(ctx, 3, fray.TaskOptions{Resources: fray.Resources{"head_node": 0.001, "CPU": 0.5}}); err != nil || v != 9 {
		t.Fatalf("head_node task: %d, %v", v, err)
	}
	_, err = Square.Remote(ctx, 3, fray.TaskOptions{Resources: fray.Resources{"GPU": 1}})
	var ie *fray.InfeasibleError
	if !errors.As(err, &ie) || ie.Resource != "GPU" {
		t.Fatalf("GPU on a CPU-only cluster: want *fray.InfeasibleError, got %v", err)
	}
	_, err = CounterActor.Create(ctx, 0, fray.ActorOptions{Resources: fray.Resources{"CPU": 64}})
	if !errors.Is(err, fray.ErrInfeasible) {
		t.Fatalf("64-CPU actor: want ErrInfeasible, got %v", err)
	}
	// ... from inside a task too: the shim checks what never passes the driver (before: the
	// nested GPU task waited forever)
	if got, err := NestedInfeasible.Call(ctx, 0); err != nil || got != "GPU; ErrInfeasible" {
		t.Fatalf("infeasible nested task and actor: %q, %v; want \"GPU; ErrInfeasible\"", got, err)
	}
	// retry_exceptions: an application error is retried (and fails again here)
	r, _ := Fail.Remote(ctx, "again", fray.TaskOptions{RetryExceptions: true, MaxRetries: fray.Retries(1)})
	if _, err := r.Get(ctx); !errors.Is(err, fray.ErrTaskFailed) {
		t.Fatalf("retried failure: %v", err)
	}
}

// NestedInfeasible submits, from inside a task, a task asking for a GPU and an actor
// asking for 64 CPUs, neither of which the test cluster has, and says how each failed:
// the nested task's *fray.InfeasibleError resource, then whether the actor's matched
// fray.ErrInfeasible.
var NestedInfeasible = fray.NewTask("raytest.nestedInfeasible", func(ctx context.Context, _ int) (string, error) {
	var out []string
	_, err := Square.Call(ctx, 3, fray.TaskOptions{Resources: fray.Resources{"GPU": 1}})
	var ie *fray.InfeasibleError
	if errors.As(err, &ie) {
		out = append(out, ie.Resource)
	} else {
		out = append(out, fmt.Sprintf("task: %v", err))
	}
	_, err = CounterActor.Create(ctx, 0, fray.ActorOptions{Resources: fray.Resources{"CPU": 64}})
	if errors.Is(err, fray.ErrInfeasible) {
		out = append(out, "ErrInfeasible")
	} else {
		out = append(out, fmt.Sprintf("actor: %v", err))
	}
	return strings.Join(out, "; "), nil
})

// SleepArgs are SleepSignalled's arguments.
type SleepArgs struct {
	Started fray.ActorHandle[Counter]
	D       time.Duration
}

func TestCancel(t *testing.T) {
	_, ctx := connect(t, ray.Options{Namespace: "raytest-cancel-" + fmt.Sprint(time.Now().UnixNano())})
	started, err := CounterActor.Create(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := SleepSignalled.Remote(ctx, SleepArgs{Started: started, D: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the Go task is really running (it has signalled), then cancel: the Go
	// task's ctx is cancelled. Cancelling earlier races the Ray worker's start-up.
	for {
		n, err := CounterAdd.Call(ctx, started, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := fray.Cancel(ctx, r, false); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get(ctx); !errors.Is(err, fray.ErrCancelled) {
		t.Fatalf("after Cancel: want ErrCancelled, got %v", err)
	}
	r2, _ := Sleep.Remote(ctx, 10*time.Minute)
	if err := fray.Cancel(ctx, r2, true); err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Get(ctx); !errors.Is(err, fray.ErrCancelled) {
		t.Fatalf("after force Cancel: want ErrCancelled, got %v", err)
	}
}
