package executor_test

import (
	"testing"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/executor/executortest"
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
