package freshproc_test

import (
	"os"
	"testing"

	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/fraytest"
	"github.com/fray-go/fray/fraytest/external/freshproc"
	"github.com/fray-go/fray/worker"
)

// TestMain serves in the worker processes the backend starts from this test binary.
func TestMain(m *testing.M) {
	worker.Init()
	os.Exit(m.Run())
}

// TestConformance runs fray's conformance suite against freshproc: a fresh cluster with the
// suite's resources per subtest, peers on the same cluster and namespace. Every task runs in
// a process of its own, so ProcessTasks holds; a request beyond the cluster fails at once.
func TestConformance(t *testing.T) {
	fraytest.Run(t, fraytest.Backend{
		Name: "freshproc",
		New: func(t *testing.T, o fraytest.Options) backend.JobContext {
			opts := freshproc.Options{}
			if o.PeerOf != nil {
				of := o.PeerOf.(*freshproc.JobContext)
				opts = freshproc.Options{Cluster: of.Cluster(), Namespace: of.Namespace()}
			} else {
				opts.Cluster = freshproc.NewCluster(fraytest.SuggestedResources)
			}
			jc, err := freshproc.New(opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = jc.Close() })
			return jc
		},
		Caps:      fraytest.Capabilities{ProcessTasks: true, InfeasibleFailsFast: true},
		Resources: fraytest.SuggestedResources,
		Scarce:    fraytest.SuggestedScarce,
	})
}
