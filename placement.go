package fray

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fray-go/fray/backend"
	"github.com/fxamacker/cbor/v2"
)

// Placement groups (MIGRATION.md, "Placement groups"): a set of resource bundles reserved
// together with a strategy, so that the tasks and actors scheduled into it are
// gang-scheduled (for example the workers of tensor-parallel inference, one bundle each).
//
//	pg, err := fray.CreatePlacementGroup(ctx, fray.PlacementGroupOptions{
//		Bundles:  []fray.Resources{{"CPU": 1}, {"CPU": 1}},
//		Strategy: fray.StrictPack,
//	})
//	if err := pg.Ready(ctx, time.Minute); err != nil { ... }
//	ref, err := Work.Remote(ctx, arg, fray.TaskOptions{Placement: &fray.PlacementOptions{Group: pg, Bundle: 0}})
//	...
//	err = pg.Remove(ctx)

// PlacementStrategy says how a placement group's bundles are placed on nodes, as in Ray.
// The zero value is Pack, Ray's default.
type PlacementStrategy int

const (
	// Pack places the bundles on as few nodes as possible, best effort (Ray's "PACK").
	Pack PlacementStrategy = iota
	// Spread places the bundles on distinct nodes where it can, best effort ("SPREAD").
	Spread
	// StrictPack places every bundle on one node, or the group is not placed ("STRICT_PACK").
	StrictPack
	// StrictSpread places every bundle on a distinct node, or the group is not placed
	// ("STRICT_SPREAD"): it needs at least as many nodes as bundles.
	StrictSpread
)

var strategyNames = [...]string{Pack: "PACK", Spread: "SPREAD", StrictPack: "STRICT_PACK", StrictSpread: "STRICT_SPREAD"}

// String returns Ray's spelling: "PACK", "SPREAD", "STRICT_PACK" or "STRICT_SPREAD".
func (s PlacementStrategy) String() string {
	if s >= 0 && int(s) < len(strategyNames) {
		return strategyNames[s]
	}
	return fmt.Sprintf("PlacementStrategy(%d)", int(s))
}

// ParsePlacementStrategy reads Ray's spelling of a strategy ("PACK", "STRICT_SPREAD", ...).
func ParsePlacementStrategy(s string) (PlacementStrategy, error) {
	for i, n := range strategyNames {
		if s == n {
			return PlacementStrategy(i), nil
		}
	}
	return 0, newKind(ErrInvalidArgument, fmt.Sprintf("fray: unknown placement strategy %q; use PACK, SPREAD, STRICT_PACK or STRICT_SPREAD", s))
}

func (s PlacementStrategy) valid() bool { return s >= Pack && s <= StrictSpread }

// PlacementGroupOptions describe a placement group to create.
type PlacementGroupOptions struct {
	// Name registers the group so that others can find it with GetPlacementGroup. Unique
	// per namespace among live groups; empty for an unnamed group.
	Name string
	// Namespace scopes Name. Empty means the job context's namespace.
	Namespace string
	// Bundles are the resource sets reserved together; at least one, none empty. A
	// bundle's amounts follow the rules of Resources (Ray's keys, no negative amounts).
	Bundles []Resources
	// Strategy says how the bundles are placed on nodes; Pack by default.
	Strategy PlacementStrategy
	// Lifetime: JobScoped (default) groups are removed when the job context that created
	// them closes; Detached groups live until removed.
	Lifetime Lifetime
}

// Validate reports the first problem with the options: no bundles, an empty bundle, an
// invalid amount (see Resources.Validate), an unknown strategy or lifetime.
func (o PlacementGroupOptions) Validate() error {
	if len(o.Bundles) == 0 {
		return newKind(ErrInvalidArgument, "fray: a placement group needs at least one bundle: set PlacementGroupOptions.Bundles, e.g. []fray.Resources{{\"CPU\": 1}}")
	}
	for i, b := range o.Bundles {
		if err := b.Validate(); err != nil {
			return fmt.Errorf("fray: placement group bundle %d: %w", i, err)
		}
		nonzero := false
		for _, v := range b {
			if v > 0 {
				nonzero = true
			}
		}
		if !nonzero {
			return &ResourceError{Resource: fmt.Sprintf("bundle %d", i), Reason: "a placement group bundle must reserve some resource (Ray refuses empty bundles): give it a positive amount, e.g. {\"CPU\": 1}"}
		}
	}
	if !o.Strategy.valid() {
		return newKind(ErrInvalidArgument, fmt.Sprintf("fray: unknown placement strategy %d; use fray.Pack, fray.Spread, fray.StrictPack or fray.StrictSpread", int(o.Strategy)))
	}
	if o.Lifetime != JobScoped && o.Lifetime != Detached {
		return newKind(ErrInvalidArgument, fmt.Sprintf("fray: unknown Lifetime %d", int(o.Lifetime)))
	}
	if o.Name == "" && o.Namespace != "" {
		return newKind(ErrInvalidArgument, "fray: PlacementGroupOptions.Namespace is set without a Name; a namespace only scopes a name")
	}
	return nil
}

// PlacementGroupID identifies a placement group within a backend.
type PlacementGroupID = backend.PlacementGroupID

// PlacementGroup is a handle to a placement group, returned by CreatePlacementGroup and
// GetPlacementGroup. It is a small value that may be passed to tasks and actors (they can
// schedule work into it); like an ActorHandle it belongs to the job context that made it.
type PlacementGroup struct {
	info backend.PlacementGroupInfo
	job  string
}

// ID returns the group's id.
func (g PlacementGroup) ID() PlacementGroupID { return g.info.ID }

// Name returns the group's name ("" if unnamed).
func (g PlacementGroup) Name() string { return g.info.Name }

// Namespace returns the namespace of the group's name.
func (g PlacementGroup) Namespace() string { return g.info.Namespace }

// Strategy returns the group's strategy.
func (g PlacementGroup) Strategy() PlacementStrategy {
	s, _ := ParsePlacementStrategy(g.info.Strategy)
	return s
}

// Bundles returns a copy of the group's bundles.
func (g PlacementGroup) Bundles() []Resources {
	out := make([]Resources, len(g.info.Bundles))
	for i, b := range g.info.Bundles {
		out[i] = Resources(b).Clone()
	}
	return out
}

// IsZero reports whether g refers to no group.
func (g PlacementGroup) IsZero() bool { return g.info.ID == "" }

// String describes the group for messages, e.g. `placement group "train" (pg-1, STRICT_PACK, 2 bundles)`.
func (g PlacementGroup) String() string { return g.info.Describe() }

// CreatePlacementGroup asks the backend to reserve the bundles of opts. It returns at once;
// the reservation happens as soon as the cluster has room (Ready waits for it). A request
// that no cluster shape could ever meet fails here (fray.ErrInfeasible), as does a backend
// without placement groups (fray.ErrUnsupported) and a taken name (fray.ErrNameTaken).
func CreatePlacementGroup(ctx context.Context, opts PlacementGroupOptions) (PlacementGroup, error) {
	if err := opts.Validate(); err != nil {
		return PlacementGroup{}, err
	}
	jc, pgs, err := placementBackend(ctx)
	if err != nil {
		return PlacementGroup{}, err
	}
	spec := backend.PlacementGroupSpec{Name: opts.Name, Namespace: opts.Namespace, Strategy: opts.Strategy.String(),
		Detached: opts.Lifetime == Detached, Bundles: make([]map[string]float64, len(opts.Bundles))}
	for i, b := range opts.Bundles {
		spec.Bundles[i] = b.Clone()
	}
	info, err := pgs.CreatePlacementGroup(ctx, spec)
	if err != nil {
		return PlacementGroup{}, err
	}
	return PlacementGroup{info: info, job: jc.JobID()}, nil
}

// GetPlacementGroup finds a live named placement group in namespace ("" means the job
// context's namespace), as Ray's get_placement_group does. A missing one is an
// *UnknownNameError.
func GetPlacementGroup(ctx context.Context, name, namespace string) (PlacementGroup, error) {
	if name == "" {
		return PlacementGroup{}, newKind(ErrInvalidArgument, "fray: GetPlacementGroup needs a name; only named groups can be looked up")
	}
	jc, pgs, err := placementBackend(ctx)
	if err != nil {
		return PlacementGroup{}, err
	}
	info, err := pgs.GetPlacementGroup(ctx, name, namespace)
	if err != nil {
		return PlacementGroup{}, err
	}
	return PlacementGroup{info: info, job: jc.JobID()}, nil
}

// Ready waits until every bundle of the group is reserved, at most timeout (Forever for no
// limit). It returns nil once the group is ready, a *PlacementGroupTimeoutError (matching
// ErrTimeout) when the timeout passes first, an error matching ErrPlacementGroupRemoved
// when the group was removed, and ctx's error when ctx is done first. Called from inside a
// task, it lends the task's CPU while it waits, as Get does (Ray's ray.get(pg.ready())), so
// a task can gang-schedule workers beside itself on a node it shares with them.
func (g PlacementGroup) Ready(ctx context.Context, timeout time.Duration) error {
	_, pgs, err := g.backendOf(ctx)
	if err != nil {
		return err
	}
	if timeout < 0 {
		return newKind(ErrInvalidArgument, fmt.Sprintf("fray: PlacementGroup.Ready: negative timeout %v; use 0 to poll or fray.Forever to wait without limit", timeout))
	}
	start := time.Now()
	ready, err := pgs.WaitPlacementGroup(ctx, g.info.ID, timeout)
	if err != nil {
		return err
	}
	if ready {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return &PlacementGroupTimeoutError{Group: g.String(), Waited: time.Since(start).Round(time.Millisecond), Bundles: g.Bundles()}
}

// Remove removes the group: its reservation is freed, tasks queued or running in it fail
// with an error matching ErrPlacementGroupRemoved, and actors placed in it die (their calls
// fail with an *ActorDiedError), as in Ray. Removing a group twice is harmless.
func (g PlacementGroup) Remove(ctx context.Context) error {
	_, pgs, err := g.backendOf(ctx)
	if err != nil {
		return err
	}
	return pgs.RemovePlacementGroup(ctx, g.info.ID)
}

func (g PlacementGroup) backendOf(ctx context.Context) (backend.JobContext, backend.PlacementGroups, error) {
	if g.info.ID == "" {
		return nil, nil, newKind(ErrInvalidArgument, "fray: zero PlacementGroup: use the handle CreatePlacementGroup or GetPlacementGroup returned")
	}
	jc, pgs, err := placementBackend(ctx)
	if err != nil {
		return nil, nil, err
	}
	if jc.JobID() != g.job {
		return nil, nil, foreignRef("placement group", string(g.info.ID), g.job, jc)
	}
	return jc, pgs, nil
}

func placementBackend(ctx context.Context) (backend.JobContext, backend.PlacementGroups, error) {
	jc, err := JobContextFrom(ctx)
	if err != nil {
		return nil, nil, err
	}
	pgs, err := placementGroupsOf(jc)
	if err != nil {
		return nil, nil, err
	}
	return jc, pgs, nil
}

type wirePlacementGroup struct {
	_         struct{} `cbor:",toarray"`
	Job       string
	ID        PlacementGroupID
	Name      string
	Namespace string
	Strategy  string
	Bundles   []map[string]float64
}

// MarshalCBOR encodes the handle for another task or actor.
func (g PlacementGroup) MarshalCBOR() ([]byte, error) {
	return cbor.Marshal(wirePlacementGroup{Job: g.job, ID: g.info.ID, Name: g.info.Name, Namespace: g.info.Namespace,
		Strategy: g.info.Strategy, Bundles: g.info.Bundles})
}

func (PlacementGroup) encodesOneLevel() {} // see oneLevel

// UnmarshalCBOR decodes a handle sent by another task.
func (g *PlacementGroup) UnmarshalCBOR(b []byte) error {
	var w wirePlacementGroup
	if err := cbor.Unmarshal(b, &w); err != nil {
		return err
	}
	*g = PlacementGroup{job: w.Job, info: backend.PlacementGroupInfo{ID: w.ID, Name: w.Name, Namespace: w.Namespace,
		Strategy: w.Strategy, Bundles: w.Bundles}}
	return nil
}

// AnyBundle is PlacementOptions.Bundle for "any bundle of the group that has room" (Ray's
// placement_group_bundle_index=-1).
const AnyBundle = backend.AnyBundle

// PlacementOptions schedule a task or actor into a placement group (TaskOptions.Placement,
// ActorOptions.Placement): its resources are then drawn from the bundle's reservation, not
// from the node's free pool, so they must fit in the bundle.
type PlacementOptions struct {
	// Group is the placement group.
	Group PlacementGroup
	// Bundle is the index of the bundle to run in, or AnyBundle (-1) for any bundle with
	// room. Note that the zero value means bundle 0, not Ray's default of any bundle.
	Bundle int
}

// validate checks the options against what the task or actor needs (need: its resources
// with defaults applied): a group, a bundle index in range, and a need that fits the bundle
// (for AnyBundle, some bundle). what names the caller ("task", "actor") for messages.
func (p *PlacementOptions) validate(what string, need Resources) error {
	if p == nil {
		return nil
	}
	if p.Group.IsZero() {
		return newKind(ErrInvalidArgument, "fray: "+what+" Placement has a zero Group: use the handle CreatePlacementGroup or GetPlacementGroup returned, or leave Placement nil")
	}
	bundles := p.Group.info.Bundles
	if p.Bundle < AnyBundle || p.Bundle >= len(bundles) {
		return &PlacementError{Group: p.Group.String(), Bundle: p.Bundle,
			Reason: fmt.Sprintf("bundle index %d is out of range: the group has %d bundle(s), so use 0..%d, or fray.AnyBundle (-1) for any", p.Bundle, len(bundles), len(bundles)-1)}
	}
	if p.Bundle != AnyBundle {
		if miss := notFitting(need, bundles[p.Bundle]); miss != "" {
			return &PlacementError{Group: p.Group.String(), Bundle: p.Bundle,
				Reason: fmt.Sprintf("the %s needs %s but bundle %d reserves %s (%s): lower the %s's Resources (set \"CPU\": 0 to run without a CPU) or make the bundle larger", what, need, p.Bundle, Resources(bundles[p.Bundle]), miss, what)}
		}
		return nil
	}
	for _, b := range bundles {
		if notFitting(need, b) == "" {
			return nil
		}
	}
	return &PlacementError{Group: p.Group.String(), Bundle: p.Bundle,
		Reason: fmt.Sprintf("the %s needs %s and no bundle of the group reserves that much (bundles %v): lower the %s's Resources (set \"CPU\": 0 to run without a CPU) or make a bundle larger", what, need, bundles, what)}
}

// notFitting names the first resource of need that bundle lacks, or returns "".
func notFitting(need Resources, bundle map[string]float64) string {
	for _, name := range need.sortedNames() {
		if u := Units(need[name]); u > 0 && u > Units(bundle[name]) {
			return fmt.Sprintf("%s %g > %g", name, need[name], bundle[name])
		}
	}
	return ""
}

// ErrPlacementGroupRemoved: the placement group was removed, so work scheduled into it
// cannot run (its tasks fail with this; its actors die).
var ErrPlacementGroupRemoved = errors.New("fray: placement group removed")

// ErrPlacement: a task or actor cannot be scheduled into the placement group it names
// (bundle index out of range, resources that do not fit the bundle), or a group's
// strategy cannot be met by the cluster.
var ErrPlacement = errors.New("fray: invalid placement")

// PlacementError reports a placement that cannot work: a bundle index out of range, a task
// or actor whose resources do not fit its bundle, or a strategy the cluster cannot meet
// (STRICT_SPREAD with more bundles than nodes). It matches ErrPlacement, and also
// ErrInfeasible when Infeasible is set.
type PlacementError struct {
	Group      string // the group, as PlacementGroup.String describes it
	Bundle     int    // the bundle index concerned, or AnyBundle
	Reason     string // what is wrong and what to do
	Infeasible bool   // no cluster of this shape can ever meet it
}

func (e *PlacementError) Error() string { return "fray: " + e.Group + ": " + e.Reason }

// Is reports whether target is ErrPlacement (or ErrInfeasible, for an infeasible one).
func (e *PlacementError) Is(target error) bool {
	return target == ErrPlacement || (e.Infeasible && target == ErrInfeasible)
}

// PlacementGroupRemovedError is the error of a task that was queued or running in a
// placement group when the group was removed, and of operations on a removed group.
type PlacementGroupRemovedError struct {
	Group string // the group, as PlacementGroup.String describes it
	What  string // what failed, e.g. "task work (3f.1)"
}

func (e *PlacementGroupRemovedError) Error() string {
	if e.What == "" {
		return "fray: " + e.Group + " was removed"
	}
	return "fray: " + e.What + " failed: its " + e.Group + " was removed; create a new group and schedule the work into it"
}

// Is reports whether target is ErrPlacementGroupRemoved.
func (e *PlacementGroupRemovedError) Is(target error) bool { return target == ErrPlacementGroupRemoved }

// PlacementGroupTimeoutError is returned by PlacementGroup.Ready when the group is still
// pending after the timeout: the cluster has not had the free resources for all of its
// bundles at once. It matches ErrTimeout.
type PlacementGroupTimeoutError struct {
	Group   string
	Waited  time.Duration
	Bundles []Resources
}

func (e *PlacementGroupTimeoutError) Error() string {
	parts := make([]string, len(e.Bundles))
	for i, b := range e.Bundles {
		parts[i] = b.String()
	}
	return fmt.Sprintf("fray: %s is not ready after %v: the cluster has not had room for its bundles [%s] at once; free resources (finish or remove other work and groups), make the bundles smaller, or wait longer",
		e.Group, e.Waited, strings.Join(parts, ", "))
}

// Is reports whether target is ErrTimeout.
func (e *PlacementGroupTimeoutError) Is(target error) bool { return target == ErrTimeout }

// placementGroupsOf returns jc's placement-group support, or an *UnsupportedError naming
// the backend when it has none.
func placementGroupsOf(jc backend.JobContext) (backend.PlacementGroups, error) {
	if pgs, ok := jc.(backend.PlacementGroups); ok {
		return pgs, nil
	}
	return nil, &UnsupportedError{Backend: jc.Backend(), Feature: "placement groups",
		Hint: "use a backend that has them (backend/local, backend/ray), or schedule without TaskOptions.Placement / ActorOptions.Placement"}
}

// checkPlacement refuses a Placement option that jc cannot honour: a backend without
// placement groups, or a group handle from another job context.
func checkPlacement(jc backend.JobContext, p *PlacementOptions) error {
	if p == nil {
		return nil
	}
	if _, err := placementGroupsOf(jc); err != nil {
		return err
	}
	if p.Group.job != jc.JobID() {
		return foreignRef("placement group", string(p.Group.info.ID), p.Group.job, jc)
	}
	return nil
}

// bundleOf is the effective form of p (nil stays nil).
func (p *PlacementOptions) bundleOf() *backend.Bundle {
	if p == nil {
		return nil
	}
	return &backend.Bundle{Group: p.Group.info.ID, Index: p.Bundle}
}
