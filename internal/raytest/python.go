package raytest

import (
	"os"
	"path/filepath"
	"testing"
)

// Python returns the virtualenv's Python with Ray ($FRAY_PYTHON, made absolute), for tests
// that start a Ray cluster of their own instead of using RAY_ADDRESS's. Gated like Address:
// FRAY_PYTHON unset → the test fails under CI (scripts/test.sh sets it) and is skipped
// otherwise, with a message that says how to get one.
func Python(t testing.TB) string {
	t.Helper()
	p := os.Getenv("FRAY_PYTHON")
	if p == "" {
		const how = "FRAY_PYTHON is not set: run scripts/setup-python.sh and export FRAY_PYTHON=$PWD/.venv/bin/python"
		if os.Getenv("CI") != "" {
			t.Fatal(how + " (CI must run this test, not skip it)")
		}
		t.Skip(how)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatalf("FRAY_PYTHON=%s: %v", p, err)
	}
	return abs
}
