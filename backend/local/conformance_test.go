package local_test

import (
	"testing"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/fraytest"
)

// TestConformance runs fray's conformance suite against the local backend in its default
// (codec) mode: each subtest on a fresh cluster with the suite's resources, peers on the same
// cluster and namespace. Options.DirectValues is left out on purpose: it skips the codec, so
// the suite's checks that unencodable values and unregistered error types behave as on a
// cluster do not hold there (that is the trade DirectValues documents).
func TestConformance(t *testing.T) {
	for _, m := range modes[:1] {
		t.Run(m.name, func(t *testing.T) {
			fraytest.Run(t, fraytest.Backend{
				Name: "local",
				New: func(t *testing.T, o fraytest.Options) fray.JobContext {
					opts := local.Options{DirectValues: m.direct}
					if o.PeerOf != nil {
						of := o.PeerOf.(*local.JobContext)
						opts.Cluster, opts.Namespace = of.Cluster(), of.Namespace()
					} else {
						c, err := local.NewCluster(local.ClusterOptions{Resources: fraytest.RequiredResources})
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
				// MaxCalls, runtime envs and GPU tasks run in worker processes.
				Caps: fraytest.Capabilities{ProcessTasks: true, InfeasibleFailsFast: true},
			})
		})
	}
}

// TestConformanceProcess runs the suite with every task and actor in a worker process
// (Options.Isolation = IsolateProcess): the same behaviour must hold when nothing but what
// travels through fray is shared between the driver and its tasks.
func TestConformanceProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts many worker processes")
	}
	fraytest.Run(t, fraytest.Backend{
		Name: "local-process",
		New: func(t *testing.T, o fraytest.Options) fray.JobContext {
			opts := local.Options{Isolation: local.IsolateProcess}
			if o.PeerOf != nil {
				of := o.PeerOf.(*local.JobContext)
				opts.Cluster, opts.Namespace = of.Cluster(), of.Namespace()
			} else {
				c, err := local.NewCluster(local.ClusterOptions{Resources: fraytest.RequiredResources})
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
		Caps: fraytest.Capabilities{ProcessTasks: true, InfeasibleFailsFast: true},
	})
}
