package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

// Option maps use readable snake_case keys (Ray's spelling where one exists) because the
// Python side reads them to build ray.remote options.

// RuntimeEnv is backend.RuntimeEnv on the wire.
type RuntimeEnv struct {
	Pip []string          `cbor:"pip,omitempty"`
	Env map[string]string `cbor:"env,omitempty"`
}

// TaskOptions is backend.TaskOptions on the wire.
type TaskOptions struct {
	Name      string             `cbor:"name,omitempty"`
	Resources map[string]float64 `cbor:"resources,omitempty"`
	MaxCalls  int                `cbor:"max_calls,omitempty"`
	// MaxRetries absent means backend.DefaultMaxRetries; -1 unlimited. Go always sends it.
	MaxRetries      *int       `cbor:"max_retries,omitempty"`
	RetryExceptions bool       `cbor:"retry_exceptions,omitempty"`
	RuntimeEnv      RuntimeEnv `cbor:"runtime_env,omitempty"`
}

// ActorOptions is backend.ActorOptions on the wire (Resources: what the actor holds).
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
}

// FromRuntimeEnv converts to the wire form.
func FromRuntimeEnv(e backend.RuntimeEnv) RuntimeEnv {
	return RuntimeEnv{Pip: e.PackageRequirements, Env: e.Env}
}

// Backend converts back.
func (e RuntimeEnv) Backend() backend.RuntimeEnv {
	return backend.RuntimeEnv{PackageRequirements: e.Pip, Env: e.Env}
}

// FromTaskOptions converts effective options to the wire form; every default is explicit.
func FromTaskOptions(o backend.TaskOptions) TaskOptions {
	retries := o.MaxRetries
	return TaskOptions{Name: o.Name, Resources: o.Resources, MaxCalls: o.MaxCalls,
		MaxRetries: &retries, RetryExceptions: o.RetryExceptions,
		RuntimeEnv: FromRuntimeEnv(o.RuntimeEnv)}
}

// Backend converts back.
func (o TaskOptions) Backend() backend.TaskOptions {
	out := backend.TaskOptions{Name: o.Name, Resources: o.Resources, MaxCalls: o.MaxCalls,
		MaxRetries: backend.DefaultMaxRetries, RetryExceptions: o.RetryExceptions, RuntimeEnv: o.RuntimeEnv.Backend()}
	if o.MaxRetries != nil {
		out.MaxRetries = *o.MaxRetries
	}
	if out.Resources == nil { // senders always send the CPU amount; never hand on a nil map
		out.Resources = map[string]float64{}
	}
	return out
}

// FromActorOptions converts effective options to the wire form. Resources on the wire are
// what the actor holds: absent means Ray's actor default (placed with 1 CPU, holding
// nothing), which is also how the Python side reads them.
func FromActorOptions(o backend.ActorOptions) ActorOptions {
	lt := ""
	if o.Detached {
		lt = "detached"
	}
	var res map[string]float64
	if len(o.Held) > 0 {
		res = o.Held
	}
	return ActorOptions{Name: o.Name, Namespace: o.Namespace, GetIfExists: o.GetIfExists,
		Lifetime: lt, Resources: res, MaxRestarts: o.MaxRestarts, MaxTaskRetries: o.MaxTaskRetries,
		MaxConcurrency: o.MaxConcurrency, RuntimeEnv: FromRuntimeEnv(o.RuntimeEnv)}
}

// Backend converts back; an unknown lifetime is an error.
func (o ActorOptions) Backend() (backend.ActorOptions, error) {
	out := backend.ActorOptions{Name: o.Name, Namespace: o.Namespace, GetIfExists: o.GetIfExists,
		MaxRestarts: o.MaxRestarts, MaxTaskRetries: o.MaxTaskRetries,
		MaxConcurrency: max(o.MaxConcurrency, 1), RuntimeEnv: o.RuntimeEnv.Backend()}
	if len(o.Resources) == 0 {
		out.Placement, out.Held = map[string]float64{"CPU": 1}, map[string]float64{}
	} else {
		out.Placement, out.Held = maps.Clone(o.Resources), maps.Clone(o.Resources)
	}
	switch o.Lifetime {
	case "":
	case "detached":
		out.Detached = true
	default:
		return out, fmt.Errorf("%w: unknown actor lifetime %q (want \"detached\" or \"\")", fray.ErrInvalidArgument, o.Lifetime)
	}
	return out, nil
}

// FromTaskInfo converts to the wire form.
func FromTaskInfo(i backend.TaskInfo) TaskInfo {
	return TaskInfo{JobID: i.JobID, TaskID: i.TaskID, Name: i.Name, ActorID: string(i.ActorID), Attempt: i.Attempt}
}

// Backend converts back; pid is the receiving process's id.
func (i TaskInfo) Backend(pid int) backend.TaskInfo {
	return backend.TaskInfo{JobID: i.JobID, TaskID: i.TaskID, Name: i.Name, ActorID: backend.ActorID(i.ActorID), Attempt: i.Attempt, PID: pid}
}

// FromActorInfo converts to the wire form.
func FromActorInfo(a backend.ActorInfo) *ActorInfo {
	return &ActorInfo{ID: string(a.ID), Class: a.Class, Name: a.Name, Namespace: a.Namespace}
}

// Backend converts back (nil gives the zero ActorInfo).
func (a *ActorInfo) Backend() backend.ActorInfo {
	if a == nil {
		return backend.ActorInfo{}
	}
	return backend.ActorInfo{ID: backend.ActorID(a.ID), Class: a.Class, Name: a.Name, Namespace: a.Namespace}
}

// TimeoutSeconds encodes a Wait timeout: backend.Forever (or anything not representable) is -1.
func TimeoutSeconds(d time.Duration) float64 {
	if d == backend.Forever || d < 0 {
		return -1
	}
	return d.Seconds()
}

// TimeoutDuration decodes a Wait timeout: negative (or NaN) is backend.Forever; values beyond
// the range of time.Duration are backend.Forever too.
func TimeoutDuration(s float64) time.Duration {
	if s < 0 || math.IsNaN(s) || s*1e9 >= float64(math.MaxInt64) {
		return backend.Forever
	}
	return time.Duration(s * 1e9)
}

// IDs converts object ids to strings.
func IDs(ids []backend.ObjectID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(id)
	}
	return out
}

// ObjectIDs converts strings to object ids.
func ObjectIDs(ids []string) []backend.ObjectID {
	out := make([]backend.ObjectID, len(ids))
	for i, id := range ids {
		out[i] = backend.ObjectID(id)
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

// ManifestDiff compares two registry manifests (backend.RegistryManifest lines) and returns
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

// ManifestDigest is backend.RegistryDigest computed over any manifest: the hex encoding of the
// first 16 bytes of the SHA-256 of the lines joined by "\n". A parent that relays a manifest
// (the Python shim) never needs it; tests use it to forge mismatching registries.
func ManifestDigest(lines []string) string {
	h := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(h[:16])
}
