package backend

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Placement groups: an OPTIONAL part of the SPI. A JobContext whose backend has placement
// groups also implements PlacementGroups; for one that does not, fray's
// CreatePlacementGroup, GetPlacementGroup and every TaskOptions.Placement or
// ActorOptions.Placement fail with a *fray.UnsupportedError (the database/sql habit for
// optional driver interfaces). The user API and its rules: MIGRATION.md, "Placement groups".

// PlacementGroupID identifies a placement group within a backend.
type PlacementGroupID string

// AnyBundle is Bundle.Index for any bundle of the group with room (Ray's -1).
const AnyBundle = -1

// PlacementGroupSpec is one placement group creation, validated by the API: at least one
// bundle, none empty, amounts as for task resources, a known strategy; Namespace is set only
// with Name.
type PlacementGroupSpec struct {
	Name      string               // "" for an unnamed group
	Namespace string               // "" means the job context's namespace
	Bundles   []map[string]float64 // copies, the backend's to keep
	Strategy  string               // Ray's spelling: "PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"
	Detached  bool                 // else removed when the creating job context closes
}

// PlacementGroupInfo describes a placement group as a backend returns it.
type PlacementGroupInfo struct {
	ID        PlacementGroupID
	Name      string
	Namespace string
	Strategy  string // Ray's spelling
	Bundles   []map[string]float64
}

// Describe names the group for messages, e.g. `placement group "train" (pg-1, STRICT_PACK,
// 2 bundles)`.
func (i PlacementGroupInfo) Describe() string {
	var b strings.Builder
	b.WriteString("placement group ")
	if i.Name != "" {
		fmt.Fprintf(&b, "%q ", i.Name)
	}
	strategy := i.Strategy
	if strategy == "" {
		strategy = "PACK"
	}
	fmt.Fprintf(&b, "(%s, %s, %d bundle", i.ID, strategy, len(i.Bundles))
	if len(i.Bundles) != 1 {
		b.WriteByte('s')
	}
	b.WriteByte(')')
	return b.String()
}

// Bundle places a task or actor in a placement group (TaskOptions.Bundle,
// ActorOptions.Bundle): its resources are drawn from the bundle's reservation. The API
// checked that Index is in range (or AnyBundle) and that the resources fit the bundle.
type Bundle struct {
	Group PlacementGroupID
	Index int
}

// PlacementGroups is implemented by job contexts whose backend has placement groups.
// Implementations must be safe for concurrent use.
type PlacementGroups interface {
	// CreatePlacementGroup registers a group and starts reserving its bundles; it does not
	// wait for the reservation. A group no cluster of the backend's shape could ever place
	// fails here (fray.ErrInfeasible, or a *fray.PlacementError for a strategy), as does a
	// taken name (fray.ErrNameTaken).
	CreatePlacementGroup(ctx context.Context, spec PlacementGroupSpec) (PlacementGroupInfo, error)
	// WaitPlacementGroup reports whether the group is ready (every bundle reserved) once it
	// is, the timeout passes (Forever: none) or ctx is done (false, no error: the caller
	// checks ctx). A removed group is an error matching fray.ErrPlacementGroupRemoved.
	WaitPlacementGroup(ctx context.Context, id PlacementGroupID, timeout time.Duration) (bool, error)
	// RemovePlacementGroup frees the group's reservation; the tasks queued or running in it
	// fail with fray.ErrPlacementGroupRemoved and its actors die. Removing a removed group
	// does nothing.
	RemovePlacementGroup(ctx context.Context, id PlacementGroupID) error
	// GetPlacementGroup finds a live named group ("" namespace: the job context's); a
	// missing one is a *fray.UnknownNameError.
	GetPlacementGroup(ctx context.Context, name, namespace string) (PlacementGroupInfo, error)
}
