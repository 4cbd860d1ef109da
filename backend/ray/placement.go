package ray

import (
	"context"
	"fmt"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/wire"
)

// Placement groups are Ray's own (ray.util.placement_group), made by the bridge, so Ray's
// tools (`ray list placement-groups`, the dashboard) show them with their names. Tasks and
// actors scheduled into one get Ray's PlacementGroupSchedulingStrategy with the bundle
// index. MIGRATION.md, "Placement groups".

var _ backend.PlacementGroups = (*JobContext)(nil)

// CreatePlacementGroup is ray.util.placement_group(bundles, strategy, name, lifetime). As
// for tasks, a group no set of alive nodes could ever hold fails at once (unless
// Options.AllowInfeasible): a bundle no node fits, STRICT_PACK bundles no one node holds
// together, STRICT_SPREAD with more bundles than nodes. Ray names groups in the job's
// namespace only, so another Namespace is refused with a *fray.UnsupportedError.
func (j *JobContext) CreatePlacementGroup(ctx context.Context, spec backend.PlacementGroupSpec) (backend.PlacementGroupInfo, error) {
	if err := j.check(); err != nil {
		return backend.PlacementGroupInfo{}, err
	}
	o := spec
	if o.Namespace != "" && o.Namespace != j.Namespace() {
		return backend.PlacementGroupInfo{}, &fray.UnsupportedError{Backend: "ray", Feature: "placement groups named in another namespace",
			Hint: fmt.Sprintf("Ray names placement groups in the creating job's namespace (%q); leave PlacementGroupOptions.Namespace empty, or connect with ray.Options.Namespace %q", j.Namespace(), o.Namespace)}
	}
	if err := j.groupFeasible(ctx, o); err != nil {
		return backend.PlacementGroupInfo{}, err
	}
	res, err := j.b.result(ctx, wire.TypeCreatePlacementGroup, wire.FromCreatePlacementGroup(spec))
	if err != nil {
		return backend.PlacementGroupInfo{}, err
	}
	return res.Group.Backend(), nil
}

// feasibleUnlessPlaced is feasible for work outside placement groups; work in a bundle
// draws from the bundle, which the API checked it fits.
func (j *JobContext) feasibleUnlessPlaced(ctx context.Context, p *backend.Bundle, req map[string]float64) error {
	if p != nil {
		return nil
	}
	return j.feasible(ctx, req)
}

// groupFeasible checks a group against the alive nodes (refreshed once before failing).
func (j *JobContext) groupFeasible(ctx context.Context, o backend.PlacementGroupSpec) error {
	if j.opts.AllowInfeasible {
		return nil
	}
	j.nodesMu.Lock()
	nodes := j.nodes
	j.nodesMu.Unlock()
	if groupInfeasible(o, nodes) == nil {
		return nil
	}
	nodes, err := j.refreshNodes(ctx)
	if err != nil {
		return err
	}
	return groupInfeasible(o, nodes)
}

// groupInfeasible returns why no placement of o's bundles on nodes can exist, or nil. It
// checks what is certain without solving the packing: every bundle fits some node;
// STRICT_PACK's sum fits one node; STRICT_SPREAD has no more bundles than nodes that fit
// one of them.
func groupInfeasible(o backend.PlacementGroupSpec, nodes []map[string]float64) error {
	desc := fmt.Sprintf("placement group (%s, %d bundles)", o.Strategy, len(o.Bundles))
	for i, b := range o.Bundles {
		if err := infeasible(b, nodes); err != nil {
			return fmt.Errorf("fray: %s: bundle %d %s fits no alive node: %w", desc, i, fray.Resources(b), err)
		}
	}
	switch o.Strategy {
	case fray.StrictPack.String():
		sum := fray.Resources{}
		for _, b := range o.Bundles {
			for k, v := range b {
				sum[k] = fray.FromUnits(fray.Units(sum[k]) + fray.Units(v))
			}
		}
		if err := infeasible(sum, nodes); err != nil {
			return fmt.Errorf("fray: %s: STRICT_PACK puts every bundle on one node, and no alive node holds %s: %w", desc, sum, err)
		}
	case fray.StrictSpread.String():
		if len(o.Bundles) > len(nodes) {
			return &fray.PlacementError{Group: desc, Bundle: fray.AnyBundle, Infeasible: true,
				Reason: fmt.Sprintf("STRICT_SPREAD needs a node for each of its %d bundles and the cluster has %d alive node(s); use SPREAD (best effort) or PACK, or add nodes", len(o.Bundles), len(nodes))}
		}
	}
	return nil
}

// WaitPlacementGroup waits for the group's bundles to be reserved (Ray's pg.wait), at most
// timeout; ctx ends the wait early.
func (j *JobContext) WaitPlacementGroup(ctx context.Context, id backend.PlacementGroupID, timeout time.Duration) (bool, error) {
	if err := j.check(); err != nil {
		return false, err
	}
	res, err := j.b.result(ctx, wire.TypeWaitPlacementGroup, wire.WaitPlacementGroup{ID: string(id), Timeout: wire.TimeoutSeconds(timeout)})
	if err != nil {
		if ctx.Err() != nil && err == ctx.Err() {
			return false, nil
		}
		return false, err
	}
	return len(res.Ready) == 1 && res.Ready[0], nil
}

// RemovePlacementGroup is ray.util.remove_placement_group. The bridge also fails this job's
// unfinished tasks in the group at once with a *fray.PlacementGroupRemovedError (Ray would
// retry a running one into the removed group, where it never runs) and force-cancels them;
// Ray kills the group's actors.
func (j *JobContext) RemovePlacementGroup(ctx context.Context, id backend.PlacementGroupID) error {
	if err := j.check(); err != nil {
		return err
	}
	_, err := j.b.result(ctx, wire.TypeRemovePlacementGroup, wire.RemovePlacementGroup{ID: string(id)})
	return err
}

// GetPlacementGroup is ray.util.get_placement_group, in any namespace ("" is the job's).
func (j *JobContext) GetPlacementGroup(ctx context.Context, name, namespace string) (backend.PlacementGroupInfo, error) {
	if err := j.check(); err != nil {
		return backend.PlacementGroupInfo{}, err
	}
	res, err := j.b.result(ctx, wire.TypeGetPlacementGroup, wire.GetPlacementGroup{Name: name, Namespace: namespace})
	if err != nil {
		return backend.PlacementGroupInfo{}, err
	}
	return res.Group.Backend(), nil
}

// NodeCount returns how many alive nodes the cluster has now.
func (j *JobContext) NodeCount(ctx context.Context) (int, error) {
	if err := j.check(); err != nil {
		return 0, err
	}
	nodes, err := j.refreshNodes(ctx)
	return len(nodes), err
}
