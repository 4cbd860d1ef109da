package executor_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/executor"
	"github.com/fray-go/fray/executor/executortest"
	"github.com/fray-go/fray/storage"
)

func localCluster(t *testing.T) executortest.NewJob {
	c, err := local.NewCluster(local.ClusterOptions{Resources: fray.Resources{"CPU": 16, "head_node": 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return func(t *testing.T) backend.JobContext {
		jc, err := local.New(local.Options{Cluster: c, Namespace: "marin"})
		if err != nil {
			t.Fatal(err)
		}
		return jc
	}
}

// TestSuiteLocal runs the executor suite on the local backend.
func TestSuiteLocal(t *testing.T) {
	executortest.Run(t, executortest.Env{Cluster: localCluster})
}

type memConfig struct {
	In  executor.Path
	Out executor.Path
	N   executor.Value[int]
}

var memStep = executor.NewStepFn("executor_test.mem", func(ctx context.Context, c memConfig) error {
	data := []byte("start\n")
	if c.In.String() != "" {
		b, err := executor.ReadFile(ctx, c.In.Join("data"))
		if err != nil {
			return err
		}
		data = append(b, "next\n"...)
	}
	return executor.WriteFile(ctx, c.Out.Join("data"), data)
})

// TestInMemoryPrefix runs a chain with a mem:// prefix: status files, info records and the
// steps' own data all live in the process's in-memory bucket.
func TestInMemoryPrefix(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 4, "head_node": 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()
	ctx := fray.WithJobContext(context.Background(), jc)
	a := executor.NewStep("m/a", memStep, memConfig{Out: executor.ThisOutputPath(), N: executor.Versioned(1)})
	b := executor.NewStep("m/b", memStep, memConfig{In: executor.OutputPathOf(a), Out: executor.ThisOutputPath()})
	const prefix = "mem://executor-test"
	rep, err := executor.Run(ctx, executor.Options{Prefix: prefix, ExperimentName: "mem", GitCommit: "x"}, b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := executor.ReadFile(ctx, executor.JoinPath(rep.Steps[1].OutputPath, "data"))
	if err != nil || string(got) != "start\nnext\n" {
		t.Fatalf("b's data %q, %v", got, err)
	}
	if _, err := executor.ReadFile(ctx, rep.ExperimentPath); err != nil {
		t.Fatalf("experiment record: %v", err)
	}
	sts, err := executor.ListStatuses(ctx, prefix)
	if err != nil || len(sts) != 2 {
		t.Fatalf("ListStatuses: %v %+v", err, sts)
	}
	for _, s := range sts {
		if s.Status != executor.StatusSuccess || !strings.HasPrefix(s.Name, "m/") {
			t.Errorf("%+v", s)
		}
	}
	if _, err := executor.ReadFile(ctx, "mem://executor-test/nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("missing file: %v", err)
	}
}

// TestInMemoryPrefixWithWorkerProcesses: a mem:// bucket lives in one process, so a step
// that the backend would run in a worker process must be refused before anything runs,
// naming the step and the reason. (Before the check, the step ran in a worker process and
// the run failed later with "key ... not found".)
func TestInMemoryPrefixWithWorkerProcesses(t *testing.T) {
	newStep := func(name string) (*executor.Step, *executor.Step) {
		a := executor.NewStep(name+"/a", memStep, memConfig{Out: executor.ThisOutputPath(), N: executor.Versioned(1)})
		b := executor.NewStep(name+"/b", memStep, memConfig{In: executor.OutputPathOf(a), Out: executor.ThisOutputPath()})
		return a, b
	}
	cases := []struct {
		name   string
		iso    local.Isolation
		setup  func(a, b *executor.Step, o *executor.Options)
		step   string // the step named in the error
		reason string
	}{
		{"RuntimeEnv", local.IsolateNone, func(a, b *executor.Step, o *executor.Options) {
			b.RuntimeEnv = fray.RuntimeEnv{Env: map[string]string{"X": "1"}}
		}, "/b", "runtime env"},
		{"PrefixEnvAlways", local.IsolateNone, func(a, b *executor.Step, o *executor.Options) {
			o.PrefixEnv = executor.PrefixEnvAlways
		}, "/a", "runtime env"},
		{"IsolateProcess", local.IsolateProcess, func(a, b *executor.Step, o *executor.Options) {}, "/a", "IsolateProcess"},
		{"DryRun", local.IsolateNone, func(a, b *executor.Step, o *executor.Options) {
			a.RuntimeEnv = fray.RuntimeEnv{Env: map[string]string{"X": "1"}}
			o.DryRun = true
		}, "/a", "runtime env"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 4, "head_node": 1}, Isolation: c.iso})
			if err != nil {
				t.Fatal(err)
			}
			defer jc.Close()
			ctx := fray.WithJobContext(context.Background(), jc)
			a, b := newStep("memproc" + c.name)
			prefix := "mem://executor-memproc-" + string(rune('a'+i))
			opts := executor.Options{Prefix: prefix, ExperimentName: "memproc", GitCommit: "x"}
			c.setup(a, b, &opts)
			_, err = executor.Run(ctx, opts, b)
			var me *executor.InMemoryPathError
			if !errors.As(err, &me) || !errors.Is(err, executor.ErrInMemoryPath) {
				t.Fatalf("Run: %v, want an *InMemoryPathError", err)
			}
			if !strings.HasSuffix(me.Step, c.step) || !strings.HasPrefix(me.Path, prefix) || !strings.Contains(me.Reason, c.reason) || me.Backend != "local" {
				t.Errorf("error %+v: want step *%s, a path under %s, reason with %q", me, c.step, prefix, c.reason)
			}
			if !strings.Contains(err.Error(), me.Step) || !strings.Contains(err.Error(), "in-memory") {
				t.Errorf("message does not name the step and the reason: %v", err)
			}
			if sts, err := executor.ListStatuses(ctx, prefix); err != nil || len(sts) != 0 {
				t.Errorf("something ran or was recorded: %+v, %v", sts, err)
			}
		})
	}
}

// TestUnlinkedPrefixFailsBeforeAnyStep: a bucket URL whose driver this test binary does
// not link (it imports no cloud driver) is one *storage.SchemeNotLinkedError from Run,
// before any step runs, not one error per step.
func TestUnlinkedPrefixFailsBeforeAnyStep(t *testing.T) {
	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 2, "head_node": 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()
	ctx := fray.WithJobContext(context.Background(), jc)
	a := executor.NewStep("u/a", memStep, memConfig{Out: executor.ThisOutputPath(), N: executor.Versioned(1)})
	b := executor.NewStep("u/b", memStep, memConfig{In: executor.OutputPathOf(a), Out: executor.ThisOutputPath()})
	rep, err := executor.Run(ctx, executor.Options{Prefix: "gs://fraytest-bucket/runs", ExperimentName: "u", GitCommit: "x"}, b)
	var se *storage.SchemeNotLinkedError
	if !errors.As(err, &se) || se.Import != "gocloud.dev/blob/gcsblob" {
		t.Fatalf("Run = %v, want a *storage.SchemeNotLinkedError naming gcsblob", err)
	}
	if rep != nil {
		t.Fatalf("Run started steps: %+v", rep)
	}
	if n := strings.Count(err.Error(), "not linked"); n != 1 {
		t.Fatalf("the error says %d times that the driver is missing, want once: %v", n, err)
	}
}
