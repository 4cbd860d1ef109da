package fraytest_test

import (
	"testing"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/fraytest"
	"go.uber.org/goleak"
)

// TestLocalConformance runs the suite against the local backend, each subtest on its own
// in-process cluster. (TestMain, which calls fray.Init, is in suite_test.go.)
func TestLocalConformance(t *testing.T) {
	fraytest.Run(t, fraytest.Backend{
		Name: "local",
		New: func(t *testing.T, o fraytest.Options) fray.JobContext {
			if o.PeerOf != nil {
				of := o.PeerOf.(*local.JobContext)
				jc, err := local.New(local.Options{Cluster: of.Cluster(), Namespace: of.Namespace()})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { jc.Close() })
				return jc
			}
			c, err := local.NewCluster(local.ClusterOptions{Resources: fraytest.RequiredResources})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			jc, err := local.New(local.Options{Cluster: c})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { jc.Close() })
			return jc
		},
		// The local backend refuses MaxCalls and RuntimeEnv until its worker pool lands;
		// flip ProcessTasks then.
		Caps: fraytest.Capabilities{ProcessTasks: false, InfeasibleFailsFast: true},
	})
	// Every subtest's job contexts and clusters are closed by now: nothing may be left running.
	goleak.VerifyNone(t)
}
