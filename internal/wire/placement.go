package wire

import (
	"fmt"

	"github.com/fray-go/fray"
)

// Placement-group requests (child→parent nested requests, and Go driver→bridge), mirroring
// fray.PlacementGroups. Their numbers sit apart from the other nested requests (0x20-0x23)
// so that later additions to either range cannot collide. Each is answered by a Result:
// Group for CreatePlacementGroup and GetPlacementGroup, Ready (one element) for
// WaitPlacementGroup, nothing for RemovePlacementGroup.
const (
	// CreatePlacementGroup creates a group (PlacementGroups.CreatePlacementGroup); body
	// CreatePlacementGroup; answer Result{pg}.
	TypeCreatePlacementGroup Type = 0x20
	// WaitPlacementGroup waits for a group to be ready (PlacementGroups.WaitPlacementGroup);
	// body WaitPlacementGroup; answer Result{rd: [ready]}. The sender may Cancel it.
	TypeWaitPlacementGroup Type = 0x21
	// RemovePlacementGroup removes a group (PlacementGroups.RemovePlacementGroup); body
	// RemovePlacementGroup; answer Result{}.
	TypeRemovePlacementGroup Type = 0x22
	// GetPlacementGroup looks up a named group (PlacementGroups.GetPlacementGroup); body
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

// Placement is fray.PlacementOptions on the wire (in TaskOptions and ActorOptions): the
// group's id and the bundle index (-1: any bundle).
type Placement struct {
	Group  string `cbor:"pg"`
	Bundle int    `cbor:"b"`
}

// PlacementGroupInfo is fray.PlacementGroupInfo on the wire. Strategy is Ray's spelling.
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

// FromPlacement converts to the wire form (nil stays nil).
func FromPlacement(p *fray.PlacementOptions) *Placement {
	if p == nil {
		return nil
	}
	return &Placement{Group: string(p.Group.ID()), Bundle: p.Bundle}
}

// Fray converts back: the handle carries the id only (the receiving backend schedules by
// id; the sender's API already checked the bundle against the group).
func (p *Placement) Fray(job string) *fray.PlacementOptions {
	if p == nil {
		return nil
	}
	return &fray.PlacementOptions{Group: fray.PlacementGroupFromInfo(job, fray.PlacementGroupInfo{ID: fray.PlacementGroupID(p.Group)}), Bundle: p.Bundle}
}

// FromCreatePlacementGroup converts a spec to the wire form.
func FromCreatePlacementGroup(spec fray.PlacementGroupSpec) CreatePlacementGroup {
	o := spec.Options
	m := CreatePlacementGroup{Name: o.Name, Namespace: o.Namespace, Strategy: o.Strategy.String(),
		Bundles: make([]map[string]float64, len(o.Bundles))}
	for i, b := range o.Bundles {
		m.Bundles[i] = b
	}
	if o.Lifetime == fray.Detached {
		m.Lifetime = "detached"
	}
	return m
}

// Spec converts back; an unknown strategy or lifetime is an error.
func (m CreatePlacementGroup) Spec() (fray.PlacementGroupSpec, error) {
	s, err := fray.ParsePlacementStrategy(m.Strategy)
	if err != nil {
		return fray.PlacementGroupSpec{}, err
	}
	o := fray.PlacementGroupOptions{Name: m.Name, Namespace: m.Namespace, Strategy: s, Bundles: make([]fray.Resources, len(m.Bundles))}
	for i, b := range m.Bundles {
		o.Bundles[i] = fray.Resources(b)
	}
	switch m.Lifetime {
	case "":
	case "detached":
		o.Lifetime = fray.Detached
	default:
		return fray.PlacementGroupSpec{}, fmt.Errorf("%w: unknown placement group lifetime %q (want \"detached\" or \"\")", fray.ErrInvalidArgument, m.Lifetime)
	}
	return fray.PlacementGroupSpec{Options: o}, nil
}

// FromPlacementGroupInfo converts to the wire form.
func FromPlacementGroupInfo(i fray.PlacementGroupInfo) *PlacementGroupInfo {
	w := &PlacementGroupInfo{ID: string(i.ID), Name: i.Name, Namespace: i.Namespace, Strategy: i.Strategy.String(),
		Bundles: make([]map[string]float64, len(i.Bundles))}
	for k, b := range i.Bundles {
		w.Bundles[k] = b
	}
	return w
}

// Fray converts back (nil gives the zero info; an unknown strategy reads as PACK).
func (w *PlacementGroupInfo) Fray() fray.PlacementGroupInfo {
	if w == nil {
		return fray.PlacementGroupInfo{}
	}
	s, _ := fray.ParsePlacementStrategy(w.Strategy)
	i := fray.PlacementGroupInfo{ID: fray.PlacementGroupID(w.ID), Name: w.Name, Namespace: w.Namespace, Strategy: s,
		Bundles: make([]fray.Resources, len(w.Bundles))}
	for k, b := range w.Bundles {
		i.Bundles[k] = fray.Resources(b)
	}
	return i
}
