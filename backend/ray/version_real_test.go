package ray_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fray-go/fray/backend/ray"
)

// otherPythonEnv names an interpreter with the pinned Ray (and cbor2) but another Python
// version than the test cluster's, e.g. one made with
//
//	python3.12 -m venv /tmp/venv312 && /tmp/venv312/bin/pip install ray==2.60.0 cbor2
//
// It is a second Ray installation, so it is opt-in: without it
// TestVersionMismatchReal is skipped (TestVersionMismatch still checks the mapping of
// Ray's message).
const otherPythonEnv = "FRAY_TEST_OTHER_PYTHON"

// TestVersionMismatchReal connects a driver whose Python differs from the cluster's: Ray's
// own check refuses it, and Connect returns a *ray.VersionMismatchError with both versions.
func TestVersionMismatchReal(t *testing.T) {
	addr := clusterAddress(t)
	other := os.Getenv(otherPythonEnv)
	if other == "" {
		t.Skip(otherPythonEnv + " not set: no second Python with Ray to provoke a version mismatch with")
	}
	version := func(py string) string {
		out, err := exec.Command(py, "-c", "import platform, ray; print(ray.__version__, platform.python_version())").Output()
		if err != nil {
			t.Fatalf("%s: %v", py, err)
		}
		return strings.TrimSpace(string(out))
	}
	mine, theirs := version(ray.FindPython()), version(other)
	if mine == theirs {
		t.Fatalf("%s=%s has the same Ray and Python (%s) as the cluster's Python", otherPythonEnv, other, mine)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	jc, err := ray.Connect(ctx, ray.Options{Address: addr, Python: other, Logger: testLogger(t)})
	if err == nil {
		jc.Close()
		t.Fatalf("Connect with %s (Ray and Python %s; the cluster's: %s) succeeded", other, theirs, mine)
	}
	var vm *ray.VersionMismatchError
	if !errors.As(err, &vm) {
		t.Fatalf("Connect: %v; want a *ray.VersionMismatchError", err)
	}
	clusterRay, clusterPy, _ := strings.Cut(mine, " ")
	driverRay, driverPy, _ := strings.Cut(theirs, " ")
	want := ray.VersionMismatchError{Address: addr, Python: other, ClusterRay: clusterRay, ClusterPython: clusterPy,
		DriverRay: driverRay, DriverPython: driverPy}
	if *vm != want {
		t.Fatalf("got %+v, want %+v", *vm, want)
	}
	t.Log(err)
}
