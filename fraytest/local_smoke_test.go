package fraytest_test

import (
	"context"
	"testing"

	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/fraytest"
	"go.uber.org/goleak"
)

// TestLocalConformance runs the suite against the local backend, each subtest on its own
// in-process cluster. (TestMain, which calls fray.Init, is in suite_test.go.)
func TestLocalConformance(t *testing.T) {
	fraytest.Run(t, fraytest.Backend{
		Name: "local",
		New: func(t *testing.T, o fraytest.Options) backend.JobContext {
			opts := local.Options{}
			if o.PeerOf != nil { // a second driver on the same cluster and namespace
				of := o.PeerOf.(*local.JobContext)
				opts = local.Options{Cluster: of.Cluster(), Namespace: of.Namespace()}
			} else { // a fresh cluster for every subtest
				c, err := local.NewCluster(local.ClusterOptions{Resources: fraytest.SuggestedResources})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				opts.Cluster = c
			}
			jc, err := local.New(opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { jc.Close() })
			return jc
		},
		// MaxCalls, runtime envs and GPU tasks run in worker processes (the test binary in
		// worker mode; TestMain calls fray.Init). backend/local's TestConformanceProcess runs
		// the suite with every task and actor in a worker process.
		Caps:      fraytest.Capabilities{ProcessTasks: true, InfeasibleFailsFast: true, Streams: true},
		Resources: fraytest.SuggestedResources,
		Scarce:    fraytest.SuggestedScarce,
		Fetched: func(_ context.Context, jc backend.JobContext) (int64, error) {
			return jc.(*local.JobContext).ObjectsFetched(), nil
		},
	})
	// Every subtest's job contexts and clusters are closed by now: nothing may be left running.
	goleak.VerifyNone(t)
}
