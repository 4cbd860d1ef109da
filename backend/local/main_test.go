package local_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	startHooks() // worker processes that fail while starting (start_test.go)
	fray.Init()
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelper())
	}
	code := m.Run()
	printRatios()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// modes are the two value-passing modes every behaviour is checked in.
var modes = []struct {
	name   string
	direct bool
}{{"codec", false}, {"direct", true}}

// newJob starts a job context on a private cluster and closes it when the test ends.
func newJob(t testing.TB, opts local.Options) (*local.JobContext, context.Context) {
	t.Helper()
	jc, err := local.New(opts)
	if err != nil {
		t.Fatalf("local.New: %v", err)
	}
	t.Cleanup(func() { _ = jc.Close() })
	return jc, fray.WithJobContext(context.Background(), jc)
}

func newCluster(t testing.TB, res fray.Resources) *local.Cluster {
	t.Helper()
	c, err := local.NewCluster(local.ClusterOptions{Resources: res})
	if err != nil {
		t.Fatalf("local.NewCluster: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
