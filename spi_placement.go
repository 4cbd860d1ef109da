package fray

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// This file is the optional placement-group part of the backend SPI (see spi.go). A
// JobContext that supports placement groups also implements PlacementGroups; one that does
// not makes CreatePlacementGroup, GetPlacementGroup and every TaskOptions.Placement or
// ActorOptions.Placement fail with an *UnsupportedError (the database/sql habit for
// optional driver interfaces).

// PlacementGroupSpec is one placement group creation. Its options are validated (and the
// bundles copied) by the API before a backend sees them.
type PlacementGroupSpec struct {
	Options PlacementGroupOptions
}

// PlacementGroupInfo describes a placement group as a backend returns it.
type PlacementGroupInfo struct {
	ID        PlacementGroupID
	Name      string
	Namespace string
	Strategy  PlacementStrategy
	Bundles   []Resources
}

// describe names the group for messages.
func (i PlacementGroupInfo) describe() string {
	var b strings.Builder
	b.WriteString("placement group ")
	if i.Name != "" {
		fmt.Fprintf(&b, "%q ", i.Name)
	}
	fmt.Fprintf(&b, "(%s, %s, %d bundle", i.ID, i.Strategy, len(i.Bundles))
	if len(i.Bundles) != 1 {
		b.WriteByte('s')
	}
	b.WriteByte(')')
	return b.String()
}

// Describe names the group for messages, as PlacementGroup.String does.
func (i PlacementGroupInfo) Describe() string { return i.describe() }

// PlacementGroups is implemented by job contexts whose backend has placement groups.
// Implementations must be safe for concurrent use. Work scheduled into a group arrives as
// TaskSpec.Options.Placement or ActorSpec.Options.Placement, already checked by the API
// (the bundle index is in range and the resources fit the bundle).
type PlacementGroups interface {
	// CreatePlacementGroup registers a group and starts reserving its bundles; it does not
	// wait for the reservation. A group no cluster of the backend's shape could ever place
	// fails here (ErrInfeasible, or a *PlacementError for a strategy), as does a taken
	// name (ErrNameTaken).
	CreatePlacementGroup(ctx context.Context, spec PlacementGroupSpec) (PlacementGroupInfo, error)
	// WaitPlacementGroup reports whether the group is ready (every bundle reserved) once it
	// is, the timeout passes (Forever: none) or ctx is done (false, no error: the caller
	// checks ctx). A removed group is an error matching ErrPlacementGroupRemoved.
	WaitPlacementGroup(ctx context.Context, id PlacementGroupID, timeout time.Duration) (bool, error)
	// RemovePlacementGroup frees the group's reservation; the tasks queued or running in it
	// fail with ErrPlacementGroupRemoved and its actors die. Removing a removed group does
	// nothing.
	RemovePlacementGroup(ctx context.Context, id PlacementGroupID) error
	// GetPlacementGroup finds a live named group ("" namespace: the job context's); a
	// missing one is an *UnknownNameError.
	GetPlacementGroup(ctx context.Context, name, namespace string) (PlacementGroupInfo, error)
}

// PlacementGroupsOf returns jc's placement-group support, or an *UnsupportedError naming
// the backend when it has none.
func PlacementGroupsOf(jc JobContext) (PlacementGroups, error) {
	if pgs, ok := jc.(PlacementGroups); ok {
		return pgs, nil
	}
	return nil, &UnsupportedError{Backend: jc.Backend(), Feature: "placement groups",
		Hint: "use a backend that has them (backend/local, backend/ray), or schedule without TaskOptions.Placement / ActorOptions.Placement"}
}

// checkPlacement refuses a Placement option that jc cannot honour: a backend without
// placement groups, or a group handle from another job context.
func checkPlacement(jc JobContext, p *PlacementOptions) error {
	if p == nil {
		return nil
	}
	if _, err := PlacementGroupsOf(jc); err != nil {
		return err
	}
	if p.Group.job != jc.JobID() {
		return foreignRef("placement group", string(p.Group.info.ID), p.Group.job, jc)
	}
	return nil
}
