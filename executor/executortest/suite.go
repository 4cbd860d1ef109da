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
	"context"
	"testing"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
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
