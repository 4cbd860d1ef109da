package ray

import (
	"fmt"
	"regexp"
	"strings"
)

// VersionMismatchError reports that Connect reached a cluster whose Ray or Python version
// differs from the driver's: Ray refuses such a driver (ray.init raises "Version mismatch"),
// because the driver and the cluster's workers exchange pickled Python objects and Ray's
// internal messages. Python must match to the patch level unless the cluster and driver set
// RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL=minor. The driver's side is the Python that runs
// the bridge (Options.Python, $FRAY_PYTHON, .venv/bin/python); scripts/setup-python.sh pins
// Ray's version.
type VersionMismatchError struct {
	Address       string // the cluster's address
	Python        string // the driver's interpreter, as Connect found it
	ClusterRay    string // e.g. "2.60.0"
	ClusterPython string // e.g. "3.11.7"
	DriverRay     string
	DriverPython  string
}

func (e *VersionMismatchError) Error() string {
	return fmt.Sprintf("fray/ray: the Ray cluster at %s runs Ray %s on Python %s, but this driver's Python (%s) has Ray %s on Python %s; "+
		"Ray needs the same Ray and Python versions on both sides: point Options.Python or FRAY_PYTHON at an interpreter with "+
		"the cluster's versions, or start the cluster with the driver's (scripts/setup-python.sh pins Ray %s)",
		e.Address, e.ClusterRay, e.ClusterPython, e.Python, e.DriverRay, e.DriverPython, pinnedRay)
}

// pinnedRay is the Ray version scripts/setup-python.sh installs.
const pinnedRay = "2.60.0"

// rayMismatch matches the message of Ray's check_version_info (ray._private.utils), which
// ray.init raises as a RuntimeError when the versions differ.
var rayMismatch = regexp.MustCompile(`Version mismatch: The cluster was started with:\s*` +
	`Ray: (\S+)\s*Python: (\S+)\s*` +
	`This process on .*? was started with:\s*` +
	`Ray: (\S+)\s*Python: (\S+)`)

// versionMismatch returns the *VersionMismatchError that Ray's message text describes, or
// nil when it is not Ray's version mismatch.
func versionMismatch(address, python, text string) *VersionMismatchError {
	m := rayMismatch.FindStringSubmatch(text)
	if m == nil {
		return nil
	}
	return &VersionMismatchError{Address: address, Python: python,
		ClusterRay: m[1], ClusterPython: m[2], DriverRay: m[3], DriverPython: strings.TrimRight(m[4], ".,")}
}
