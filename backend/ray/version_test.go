package ray

import (
	"errors"
	"strings"
	"testing"
)

// rayMismatchText is the message of Ray's check_version_info as ray.init raises it (Ray
// 2.60.0's format, in the bridge's wrapping: "fray: connecting to Ray failed: RuntimeError:
// ..." and the traceback).
func rayMismatchText(clusterRay, clusterPy, driverRay, driverPy string) string {
	return "fray: connecting to Ray failed: RuntimeError: Version mismatch: The cluster was started with:\n" +
		"    Ray: " + clusterRay + "\n" +
		"    Python: " + clusterPy + "\n" +
		"This process on node 127.0.0.1 was started with:\n" +
		"    Ray: " + driverRay + "\n" +
		"    Python: " + driverPy + "\n" +
		"\nTraceback (most recent call last):\n  File \"fray_bridge.py\", line 43, in main\n"
}

func TestVersionMismatch(t *testing.T) {
	for _, c := range []struct {
		name string
		text string
		want *VersionMismatchError // nil: not a version mismatch
	}{
		{"python differs", rayMismatchText("2.60.0", "3.11.7", "2.60.0", "3.12.1"),
			&VersionMismatchError{ClusterRay: "2.60.0", ClusterPython: "3.11.7", DriverRay: "2.60.0", DriverPython: "3.12.1"}},
		{"ray differs", rayMismatchText("2.59.1", "3.11.7", "2.60.0", "3.11.7"),
			&VersionMismatchError{ClusterRay: "2.59.1", ClusterPython: "3.11.7", DriverRay: "2.60.0", DriverPython: "3.11.7"}},
		{"dev build", rayMismatchText("3.0.0.dev0", "3.11.7", "2.60.0", "3.11.7"),
			&VersionMismatchError{ClusterRay: "3.0.0.dev0", ClusterPython: "3.11.7", DriverRay: "2.60.0", DriverPython: "3.11.7"}},
		{"ray client wording", "Version mismatch: The cluster was started with:\n    Ray: 2.60.0\n    Python: 3.10.13\n" +
			"This process on Ray Client was started with:\n    Ray: 2.60.0\n    Python: 3.11.7\n",
			&VersionMismatchError{ClusterRay: "2.60.0", ClusterPython: "3.10.13", DriverRay: "2.60.0", DriverPython: "3.11.7"}},
		// Ray logs only a warning for a patch difference at match level "minor".
		{"patch warning", "Python patch version mismatch: The cluster was started with:\n    Ray: 2.60.0\n", nil},
		{"other error", "fray: connecting to Ray failed: ConnectionError: no Ray cluster answers at 127.0.0.1:1", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := versionMismatch("127.0.0.1:6379", "/venv/bin/python", c.text)
			if c.want == nil {
				if got != nil {
					t.Fatalf("versionMismatch = %+v, want nil", got)
				}
				return
			}
			c.want.Address, c.want.Python = "127.0.0.1:6379", "/venv/bin/python"
			if got == nil || *got != *c.want {
				t.Fatalf("versionMismatch = %+v, want %+v", got, c.want)
			}
			var err error = got
			var vm *VersionMismatchError
			if !errors.As(err, &vm) {
				t.Fatal("errors.As does not find *VersionMismatchError")
			}
			msg := err.Error()
			for _, s := range []string{"Ray " + c.want.ClusterRay + " on Python " + c.want.ClusterPython,
				"has Ray " + c.want.DriverRay + " on Python " + c.want.DriverPython, "/venv/bin/python", "FRAY_PYTHON"} {
				if !strings.Contains(msg, s) {
					t.Errorf("message lacks %q: %s", s, msg)
				}
			}
		})
	}
}
