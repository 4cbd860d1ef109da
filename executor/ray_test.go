package executor_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/backend/ray"
	"github.com/fray-go/fray/executor"
	"github.com/fray-go/fray/executor/executortest"
	"github.com/fray-go/fray/internal/raytest"
)

// TestSuiteRay runs the executor suite on a real Ray cluster: every job context is its own
// Ray driver (a separate bridge process), so two executors sharing a step, or ten racing
// for one, are separate drivers coordinating through the detached StatusActor, as on a
// real cluster.
func TestSuiteRay(t *testing.T) {
	addr := raytest.Address(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	connect := func(t *testing.T) backend.JobContext {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		jc, err := ray.Connect(ctx, ray.Options{Address: addr, Namespace: executor.StatusActorNamespace, Logger: quiet})
		if err != nil {
			t.Fatalf("ray.Connect: %v", err)
		}
		t.Cleanup(func() { jc.Close() })
		return jc
	}

	// The StatusActor is detached: kill it at the end if this test made it, and leave one
	// that was already there (someone else's executor may be using it).
	probe := connect(t)
	pctx := fray.WithJobContext(context.Background(), probe)
	if _, err := executor.StatusActorClass.Lookup(pctx, executor.StatusActorName, executor.StatusActorNamespace); err != nil {
		t.Cleanup(func() {
			if h, err := executor.StatusActorClass.Lookup(pctx, executor.StatusActorName, executor.StatusActorNamespace); err == nil {
				_ = h.Kill(pctx)
			}
		})
	}

	executortest.Run(t, executortest.Env{Cluster: func(t *testing.T) executortest.NewJob { return connect }})
}
