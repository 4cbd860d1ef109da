package fray

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Resources maps resource names to amounts, keyed exactly as Ray keys them: "CPU", "GPU",
// "memory" (bytes), and custom names such as "TPU" or "head_node". Resources are logical:
// they gate admission, they do not limit what a task actually uses (except that GPU ids are
// handed to the task in CUDA_VISIBLE_DEVICES by backends that run it in a process).
type Resources map[string]float64

// Well-known resource names.
const (
	CPU      = "CPU"
	GPU      = "GPU"
	Memory   = "memory"
	TPU      = "TPU"
	HeadNode = "head_node"
)

// ResourceUnit is the precision of resource amounts, as in Ray: amounts are kept as whole
// multiples of 0.0001, and a nonzero amount smaller than that is rejected.
const ResourceUnit = 0.0001

// unitsPerResource is 1/ResourceUnit.
const unitsPerResource = 10000

// unitInstanceResources can only be requested in fractions up to 1 or in whole numbers,
// because each unit is a physical device handed to one task.
var unitInstanceResources = map[string]bool{GPU: true, TPU: true, "neuron_cores": true}

// tpuChipCounts are the TPU amounts Ray accepts in one request (its TPU_VALID_CHIP_OPTIONS):
// a task gets whole chips of one host, in the host's power-of-two slices.
var tpuChipCounts = map[float64]bool{1: true, 2: true, 4: true, 8: true}

// rayisms maps names people bring over from Ray's keyword arguments to fray's keys.
var rayisms = map[string]string{
	"num_cpus": CPU, "num_gpus": GPU, "cpu": CPU, "cpus": CPU, "gpu": GPU, "gpus": GPU,
	"CPUs": CPU, "GPUs": GPU, "Memory": Memory, "mem": Memory, "MEMORY": Memory, "tpu": TPU,
	"num_tpus": TPU, "object_store_memory": "(not a task resource; configure the cluster)",
}

// ResourceError describes an invalid resource request.
type ResourceError struct {
	Resource string
	Amount   float64
	Reason   string
}

func (e *ResourceError) Error() string {
	return fmt.Sprintf("fray: invalid resource %q = %g: %s", e.Resource, e.Amount, e.Reason)
}

// Is reports whether target is ErrInvalidResources.
func (e *ResourceError) Is(target error) bool { return target == ErrInvalidResources }

// Validate checks a resource request the way Ray does: no negative, NaN or infinite amounts,
// no nonzero amount below 0.0001, whole amounts above 1 for device resources (GPU), TPU
// amounts of 1, 2, 4 or 8,
// a non-empty name, and none of Ray's keyword spellings (num_cpus → "CPU").
func (r Resources) Validate() error {
	for _, name := range r.sortedNames() {
		v := r[name]
		if name == "" {
			return &ResourceError{Resource: name, Amount: v, Reason: "resource names must not be empty"}
		}
		if right, ok := rayisms[name]; ok {
			return &ResourceError{Resource: name, Amount: v, Reason: fmt.Sprintf("fray uses Ray's resource keys, not its keyword arguments: use %q", right)}
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return &ResourceError{Resource: name, Amount: v, Reason: "amount must be a finite number"}
		}
		if v < 0 {
			return &ResourceError{Resource: name, Amount: v, Reason: "amount must not be negative"}
		}
		if v > 0 && v < ResourceUnit {
			return &ResourceError{Resource: name, Amount: v, Reason: "amounts below 0.0001 (the precision of resource accounting) are not allowed; use 0 or at least 0.0001"}
		}
		if v > 1e15 {
			return &ResourceError{Resource: name, Amount: v, Reason: "amount too large"}
		}
		if unitInstanceResources[name] && v > 1 && v != math.Trunc(v) {
			return &ResourceError{Resource: name, Amount: v, Reason: "amounts above 1 must be whole numbers for device resources"}
		}
		if name == TPU && v != 0 && !tpuChipCounts[v] {
			return &ResourceError{Resource: name, Amount: v, Reason: "TPU requests must be 1, 2, 4 or 8 chips, as in Ray (no fractions of a TPU)"}
		}
	}
	return nil
}

// Units converts an amount to fixed-point units of 0.0001, rounding to the nearest unit.
func Units(v float64) int64 { return int64(math.Round(v * unitsPerResource)) }

// FromUnits converts fixed-point units back to an amount.
func FromUnits(u int64) float64 { return float64(u) / unitsPerResource }

// Clone returns a copy of r (nil stays nil).
func (r Resources) Clone() Resources {
	if r == nil {
		return nil
	}
	c := make(Resources, len(r))
	for k, v := range r {
		c[k] = v
	}
	return c
}

// String formats r deterministically, e.g. {CPU: 1, head_node: 0.0001}.
func (r Resources) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range r.sortedNames() {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %g", k, r[k])
	}
	b.WriteByte('}')
	return b.String()
}

func (r Resources) sortedNames() []string {
	names := make([]string, 0, len(r))
	for k := range r {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// TaskResources returns what a task holds while it runs: the request with Ray's default of
// 1 CPU when no CPU amount is given.
func TaskResources(r Resources) Resources {
	out := r.Clone()
	if out == nil {
		out = Resources{}
	}
	if _, ok := out[CPU]; !ok {
		out[CPU] = 1
	}
	return out
}

// ActorResources returns what an actor needs to be placed and what it holds while it lives.
// As in Ray: with no resources given, an actor needs 1 CPU to be placed and holds nothing
// afterwards; with resources given, it is placed with and holds exactly those (CPU defaults
// to 0).
func ActorResources(r Resources) (placement, held Resources) {
	if len(r) == 0 {
		return Resources{CPU: 1}, Resources{}
	}
	return r.Clone(), r.Clone()
}
