package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/fray-go/fray"
)

// Option maps use readable snake_case keys (Ray's spelling where one exists) because the
// Python side reads them to build ray.remote options.

// RuntimeEnv is fray.RuntimeEnv on the wire.
type RuntimeEnv struct {
	Pip []string          `cbor:"pip,omitempty"`
	Env map[string]string `cbor:"env,omitempty"`
}

// TaskOptions is fray.TaskOptions on the wire.
type TaskOptions struct {
	Name      string             `cbor:"name,omitempty"`
	Resources map[string]float64 `cbor:"resources,omitempty"`
	MaxCalls  int                `cbor:"max_calls,omitempty"`
	// MaxRetries absent means fray.DefaultMaxRetries; -1 unlimited.
	MaxRetries      *int       `cbor:"max_retries,omitempty"`
	RetryExceptions bool       `cbor:"retry_exceptions,omitempty"`
	RuntimeEnv      RuntimeEnv `cbor:"runtime_env,omitempty"`
	Placement       *Placement `cbor:"placement,omitempty"`
}

// ActorOptions is fray.ActorOptions on the wire.
type ActorOptions struct {
	Name           string             `cbor:"name,omitempty"`
	Namespace      string             `cbor:"namespace,omitempty"`
	GetIfExists    bool               `cbor:"get_if_exists,omitempty"`
	Lifetime       string             `cbor:"lifetime,omitempty"` // "detached" or "" (job-scoped)
	Resources      map[string]float64 `cbor:"resources,omitempty"`
	MaxRestarts    int                `cbor:"max_restarts,omitempty"`
	MaxTaskRetries int                `cbor:"max_task_retries,omitempty"`
	MaxConcurrency int                `cbor:"max_concurrency,omitempty"`
	RuntimeEnv     RuntimeEnv         `cbor:"runtime_env,omitempty"`
	Placement      *Placement         `cbor:"placement,omitempty"`
}

// FromRuntimeEnv converts to the wire form.
func FromRuntimeEnv(e fray.RuntimeEnv) RuntimeEnv {
	return RuntimeEnv{Pip: e.PackageRequirements, Env: e.Env}
}

// Fray converts back.
func (e RuntimeEnv) Fray() fray.RuntimeEnv {
	return fray.RuntimeEnv{PackageRequirements: e.Pip, Env: e.Env}
}

// FromTaskOptions converts to the wire form.
func FromTaskOptions(o fray.TaskOptions) TaskOptions {
	return TaskOptions{Name: o.Name, Resources: o.Resources, MaxCalls: o.MaxCalls,
		MaxRetries: o.MaxRetries, RetryExceptions: o.RetryExceptions,
		RuntimeEnv: FromRuntimeEnv(o.RuntimeEnv), Placement: FromPlacement(o.Placement)}
}

// Fray converts back.
func (o TaskOptions) Fray() fray.TaskOptions {
	return fray.TaskOptions{Name: o.Name, Resources: fray.Resources(o.Resources), MaxCalls: o.MaxCalls,
		MaxRetries: o.MaxRetries, RetryExceptions: o.RetryExceptions, RuntimeEnv: o.RuntimeEnv.Fray(),
		Placement: o.Placement.Fray("")}
}

// FromActorOptions converts to the wire form.
func FromActorOptions(o fray.ActorOptions) ActorOptions {
	lt := ""
	if o.Lifetime == fray.Detached {
		lt = "detached"
	}
	return ActorOptions{Name: o.Name, Namespace: o.Namespace, GetIfExists: o.GetIfExists,
		Lifetime: lt, Resources: o.Resources, MaxRestarts: o.MaxRestarts, MaxTaskRetries: o.MaxTaskRetries,
		MaxConcurrency: o.MaxConcurrency, RuntimeEnv: FromRuntimeEnv(o.RuntimeEnv), Placement: FromPlacement(o.Placement)}
}

// Fray converts back; an unknown lifetime is an error.
func (o ActorOptions) Fray() (fray.ActorOptions, error) {
	out := fray.ActorOptions{Name: o.Name, Namespace: o.Namespace, GetIfExists: o.GetIfExists,
		Resources: fray.Resources(o.Resources), MaxRestarts: o.MaxRestarts, MaxTaskRetries: o.MaxTaskRetries,
		MaxConcurrency: o.MaxConcurrency, RuntimeEnv: o.RuntimeEnv.Fray(), Placement: o.Placement.Fray("")}
	switch o.Lifetime {
	case "":
	case "detached":
		out.Lifetime = fray.Detached
	default:
		return out, fmt.Errorf("%w: unknown actor lifetime %q (want \"detached\" or \"\")", fray.ErrInvalidArgument, o.Lifetime)
	}
	return out, nil
}

// FromTaskInfo converts to the wire form.
func FromTaskInfo(i fray.TaskInfo) TaskInfo {
	return TaskInfo{JobID: i.JobID, TaskID: i.TaskID, Name: i.Name, ActorID: string(i.ActorID), Attempt: i.Attempt}
}

// Fray converts back; pid is the receiving process's id.
func (i TaskInfo) Fray(pid int) fray.TaskInfo {
	return fray.TaskInfo{JobID: i.JobID, TaskID: i.TaskID, Name: i.Name, ActorID: fray.ActorID(i.ActorID), Attempt: i.Attempt, PID: pid}
}

// FromActorInfo converts to the wire form.
func FromActorInfo(a fray.ActorInfo) *ActorInfo {
	return &ActorInfo{ID: string(a.ID), Class: a.Class, Name: a.Name, Namespace: a.Namespace}
}

// Fray converts back (nil gives the zero ActorInfo).
func (a *ActorInfo) Fray() fray.ActorInfo {
	if a == nil {
		return fray.ActorInfo{}
	}
	return fray.ActorInfo{ID: fray.ActorID(a.ID), Class: a.Class, Name: a.Name, Namespace: a.Namespace}
}

// TimeoutSeconds encodes a Wait timeout: fray.Forever (or anything not representable) is -1.
func TimeoutSeconds(d time.Duration) float64 {
	if d == fray.Forever || d < 0 {
		return -1
	}
	return d.Seconds()
}

// TimeoutDuration decodes a Wait timeout: negative (or NaN) is fray.Forever; values beyond
// the range of time.Duration are fray.Forever too.
func TimeoutDuration(s float64) time.Duration {
	if s < 0 || math.IsNaN(s) || s*1e9 >= float64(math.MaxInt64) {
		return fray.Forever
	}
	return time.Duration(s * 1e9)
}

// IDs converts object ids to strings.
func IDs(ids []fray.ObjectID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(id)
	}
	return out
}

// ObjectIDs converts strings to object ids.
func ObjectIDs(ids []string) []fray.ObjectID {
	out := make([]fray.ObjectID, len(ids))
	for i, id := range ids {
		out[i] = fray.ObjectID(id)
	}
	return out
}

// RegistryMismatchError is a worker's refusal of a Hello whose registry differs from its own:
// the two binaries were built from different code.
type RegistryMismatchError struct {
	ParentDigest, WorkerDigest string
	// MissingInWorker are functions the parent has and the worker lacks; MissingInParent
	// the reverse. A changed signature appears in both.
	MissingInWorker []string
	MissingInParent []string
}

func (e *RegistryMismatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fray: worker registry %s does not match the driver's %s: the worker binary was built from different code", e.WorkerDigest, e.ParentDigest)
	if len(e.MissingInWorker) > 0 {
		fmt.Fprintf(&b, "; missing in the worker: %s", strings.Join(e.MissingInWorker, ", "))
	}
	if len(e.MissingInParent) > 0 {
		fmt.Fprintf(&b, "; missing in the driver: %s", strings.Join(e.MissingInParent, ", "))
	}
	b.WriteString("; rebuild and deploy the same binary for driver and workers")
	return b.String()
}

// ManifestDiff compares two registry manifests (fray.RegistryManifest lines) and returns
// the lines only in parent and the lines only in worker, each sorted.
func ManifestDiff(parent, worker []string) (missingInWorker, missingInParent []string) {
	inP := make(map[string]bool, len(parent))
	for _, l := range parent {
		inP[l] = true
	}
	inW := make(map[string]bool, len(worker))
	for _, l := range worker {
		inW[l] = true
	}
	for l := range inP {
		if !inW[l] {
			missingInWorker = append(missingInWorker, l)
		}
	}
	for l := range inW {
		if !inP[l] {
			missingInParent = append(missingInParent, l)
		}
	}
	sort.Strings(missingInWorker)
	sort.Strings(missingInParent)
	return missingInWorker, missingInParent
}

// ManifestDigest is fray.RegistryDigest computed over any manifest: the hex encoding of the
// first 16 bytes of the SHA-256 of the lines joined by "\n". A parent that relays a manifest
// (the Python shim) never needs it; tests use it to forge mismatching registries.
func ManifestDigest(lines []string) string {
	h := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(h[:16])
}
