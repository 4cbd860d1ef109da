package executor_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/fray-go/fray"
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
	return func(t *testing.T) fray.JobContext {
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
