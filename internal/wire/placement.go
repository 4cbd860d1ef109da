package wire

import (
	"fmt"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

// Placement-group requests (child→parent nested requests, and Go driver→bridge), mirroring
// backend.PlacementGroups. Their numbers sit apart from the other nested requests (0x20-0x23)
// so that later additions to either range cannot collide. Each is answered by a Result:
// Group for CreatePlacementGroup and GetPlacementGroup, Ready (one element) for
// WaitPlacementGroup, nothing for RemovePlacementGroup.
const (
	// CreatePlacementGroup creates a group (backend.PlacementGroups.CreatePlacementGroup); body
	// CreatePlacementGroup; answer Result{pg}.
	TypeCreatePlacementGroup Type = 0x20
	// WaitPlacementGroup waits for a group to be ready (backend.PlacementGroups.WaitPlacementGroup);
	// body WaitPlacementGroup; answer Result{rd: [ready]}. The sender may Cancel it.
	TypeWaitPlacementGroup Type = 0x21
	// RemovePlacementGroup removes a group (backend.PlacementGroups.RemovePlacementGroup); body
	// RemovePlacementGroup; answer Result{}.
	TypeRemovePlacementGroup Type = 0x22
	// GetPlacementGroup looks up a named group (backend.PlacementGroups.GetPlacementGroup); body
	// GetPlacementGroup; answer Result{pg}.
	TypeGetPlacementGroup Type = 0x23
)

func init() {
	typeNames[TypeCreatePlacementGroup] = "CreatePlacementGroup"
	typeNames[TypeWaitPlacementGroup] = "WaitPlacementGroup"
	typeNames[TypeRemovePlacementGroup] = "RemovePlacementGroup"
	typeNames[TypeGetPlacementGroup] = "GetPlacementGroup"
}

// isPlacementRequest reports whether t is one of the placement-group requests.
func isPlacementRequest(t Type) bool {
	return t >= TypeCreatePlacementGroup && t <= TypeGetPlacementGroup
}

// Placement is backend.Bundle on the wire (in TaskOptions and ActorOptions): the
// group's id and the bundle index (-1: any bundle).
type Placement struct {
	Group  string `cbor:"pg"`
	Bundle int    `cbor:"b"`
}

// PlacementGroupInfo is backend.PlacementGroupInfo on the wire. Strategy is Ray's spelling.
type PlacementGroupInfo struct {
	ID        string               `cbor:"id"`
	Name      string               `cbor:"n,omitempty"`
	Namespace string               `cbor:"ns,omitempty"`
	Strategy  string               `cbor:"s"`
	Bundles   []map[string]float64 `cbor:"b"`
}

// CreatePlacementGroup creates a placement group. Strategy is Ray's spelling ("PACK", ...),
// Lifetime "detached" or "" (job-scoped).
type CreatePlacementGroup struct {
	Origin
	Name      string               `cbor:"n,omitempty"`
	Namespace string               `cbor:"ns,omitempty"`
	Bundles   []map[string]float64 `cbor:"b"`
	Strategy  string               `cbor:"s"`
	Lifetime  string               `cbor:"lt,omitempty"`
}

// WaitPlacementGroup waits until a group is ready; Timeout in seconds, negative for none.
type WaitPlacementGroup struct {
	Origin
	ID      string  `cbor:"id"`
	Timeout float64 `cbor:"t"`
}

// RemovePlacementGroup removes a group.
type RemovePlacementGroup struct {
	Origin
	ID string `cbor:"id"`
}

// GetPlacementGroup looks up a named group; Namespace "" is the job's.
type GetPlacementGroup struct {
	Origin
	Name      string `cbor:"n"`
	Namespace string `cbor:"ns,omitempty"`
}

// FromBundle converts to the wire form (nil stays nil).
func FromBundle(b *backend.Bundle) *Placement {
	if b == nil {
		return nil
	}
	return &Placement{Group: string(b.Group), Bundle: b.Index}
}

// Backend converts back (nil stays nil).
func (p *Placement) Backend() *backend.Bundle {
	if p == nil {
		return nil
	}
	return &backend.Bundle{Group: backend.PlacementGroupID(p.Group), Index: p.Bundle}
}

// FromCreatePlacementGroup converts a spec to the wire form.
func FromCreatePlacementGroup(spec backend.PlacementGroupSpec) CreatePlacementGroup {
	m := CreatePlacementGroup{Name: spec.Name, Namespace: spec.Namespace, Strategy: spec.Strategy, Bundles: spec.Bundles}
	if spec.Detached {
		m.Lifetime = "detached"
	}
	return m
}

// Spec converts back; an unknown strategy or lifetime is an error.
func (m CreatePlacementGroup) Spec() (backend.PlacementGroupSpec, error) {
	if _, err := fray.ParsePlacementStrategy(m.Strategy); err != nil {
		return backend.PlacementGroupSpec{}, err
	}
	spec := backend.PlacementGroupSpec{Name: m.Name, Namespace: m.Namespace, Strategy: m.Strategy, Bundles: m.Bundles}
	switch m.Lifetime {
	case "":
	case "detached":
		spec.Detached = true
	default:
		return backend.PlacementGroupSpec{}, fmt.Errorf("%w: unknown placement group lifetime %q (want \"detached\" or \"\")", fray.ErrInvalidArgument, m.Lifetime)
	}
	return spec, nil
}

// FromPlacementGroupInfo converts to the wire form.
func FromPlacementGroupInfo(i backend.PlacementGroupInfo) *PlacementGroupInfo {
	return &PlacementGroupInfo{ID: string(i.ID), Name: i.Name, Namespace: i.Namespace, Strategy: i.Strategy, Bundles: i.Bundles}
}

// Backend converts back (nil gives the zero info).
func (w *PlacementGroupInfo) Backend() backend.PlacementGroupInfo {
	if w == nil {
		return backend.PlacementGroupInfo{}
	}
	return backend.PlacementGroupInfo{ID: backend.PlacementGroupID(w.ID), Name: w.Name, Namespace: w.Namespace, Strategy: w.Strategy, Bundles: w.Bundles}
}
