package local_test

import (
	"context"
	"testing"

	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/fraytest"
)

// TestConformance runs fray's conformance suite against the local backend in its default
// (codec) mode: each subtest on a fresh cluster with the suite's resources, peers on the same
// cluster and namespace. Options.DirectValues is left out on purpose: it skips the codec, so
// the suite's checks that unencodable values and unregistered error types behave as on a
// cluster do not hold there (that is the trade DirectValues documents).
func TestConformance(t *testing.T) {
	t.Run(modes[0].name, func(t *testing.T) {
		fraytest.Run(t, suiteBackend("local", local.Options{DirectValues: modes[0].direct}))
	})
}

// TestConformanceProcess runs the suite with every task and actor in a worker process
// (Options.Isolation = IsolateProcess): the same behaviour must hold when nothing but what
// travels through fray is shared between the driver and its tasks.
func TestConformanceProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts many worker processes")
	}
	fraytest.Run(t, suiteBackend("local-process", local.Options{Isolation: local.IsolateProcess}))
}

// suiteBackend describes the local backend with base options to the suite: a fresh cluster
// with the suite's resources per subtest, and peers on the same cluster and namespace.
// MaxCalls, runtime envs and GPU tasks run in worker processes, so ProcessTasks holds.
func suiteBackend(name string, base local.Options) fraytest.Backend {
	return fraytest.Backend{
		Name: name,
		New: func(t *testing.T, o fraytest.Options) backend.JobContext {
			opts := base
			if o.PeerOf != nil {
				of := o.PeerOf.(*local.JobContext)
				opts.Cluster, opts.Namespace = of.Cluster(), of.Namespace()
			} else {
				c, err := local.NewCluster(local.ClusterOptions{Resources: fraytest.SuggestedResources})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = c.Close() })
				opts.Cluster = c
			}
			jc, err := local.New(opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = jc.Close() })
			return jc
		},
		Caps:      fraytest.Capabilities{ProcessTasks: true, InfeasibleFailsFast: true, Streams: true},
		Resources: fraytest.SuggestedResources,
		Scarce:    fraytest.SuggestedScarce,
		Fetched: func(_ context.Context, jc backend.JobContext) (int64, error) {
			return jc.(*local.JobContext).ObjectsFetched(), nil
		},
	}
}
