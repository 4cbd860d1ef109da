package migration_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/backend/ray"
	"github.com/fray-go/fray/examples/migration"
)

// snippet:testing-unit
// A unit test runs on the local backend: no cluster, milliseconds. (TestMain calls
// fray.Init, because MaxCalls 1 runs the task in a worker process: this test binary.)
func TestProcessFile(t *testing.T) {
	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 2, "TPU": 4}})
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()
	ctx := fray.WithJobContext(context.Background(), jc)

	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	if err := os.WriteFile(in, []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := migration.ProcessOne(ctx, in, out)
	if err != nil || st.Lines != 2 {
		t.Fatalf("ProcessOne = %+v, %v; want 2 lines", st, err)
	}
}

// end snippet:testing-unit

// snippet:testing-integration
// An integration test runs the same code on a Ray cluster (scripts/ray-cluster.sh start).
func TestSquareOnRay(t *testing.T) {
	addr := os.Getenv("RAY_ADDRESS")
	if addr == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must provide a Ray cluster in RAY_ADDRESS")
		}
		t.Skip("RAY_ADDRESS is not set; start a cluster with scripts/ray-cluster.sh start")
	}
	jc, err := ray.Connect(context.Background(), ray.Options{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()
	ctx := fray.WithJobContext(context.Background(), jc)

	if v, err := migration.Square.Call(ctx, 7); err != nil || v != 49 {
		t.Fatalf("Square(7) = %v, %v; want 49", v, err)
	}
}

// end snippet:testing-integration

// TestDecorator checks that the wrapped task still runs and removes its lockfile.
func TestDecorator(t *testing.T) {
	jc, err := local.New(local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()
	ctx := fray.WithJobContext(context.Background(), jc)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	_ = os.WriteFile(in, []byte("x\n"), 0o644)
	if _, err := migration.ProcessFileOnTPU.Call(ctx, migration.FileJob{Input: in, Output: filepath.Join(dir, "out.txt")}); err != nil {
		t.Fatal(err)
	}
}
