package freshproc_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/fraytest/external/freshproc"
)

var pid = fray.NewTask("freshproc_test.pid", func(ctx context.Context, _ int) (int, error) {
	return os.Getpid(), nil
})

func newJob(t *testing.T) context.Context {
	t.Helper()
	jc, err := freshproc.New(freshproc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = jc.Close() })
	return fray.WithJobContext(context.Background(), jc)
}

// Every task gets a process of its own, even without MaxCalls.
func TestEveryTaskInAFreshProcess(t *testing.T) {
	ctx := newJob(t)
	seen := map[int]bool{os.Getpid(): true}
	for i := 0; i < 3; i++ {
		p, err := pid.Call(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("task %d ran in process %d, which already ran the driver or an earlier task", i, p)
		}
		seen[p] = true
	}
}

func TestPackageRequirementsRefused(t *testing.T) {
	ctx := newJob(t)
	_, err := pid.Remote(ctx, 0, fray.TaskOptions{RuntimeEnv: fray.RuntimeEnv{PackageRequirements: []string{"numpy"}}})
	var ue *fray.UnsupportedError
	if !errors.Is(err, fray.ErrUnsupported) || !errors.As(err, &ue) {
		t.Fatalf("task with PackageRequirements: %v, want a *fray.UnsupportedError", err)
	}
}
