package worker

import (
	"context"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/wire"
)

// Placement groups from inside a worker: the client forwards them to the parent as nested
// requests (internal/wire/placement.go), and the parent serves them with its host's
// backend.PlacementGroups.

var _ backend.PlacementGroups = (*client)(nil)

func (c *client) CreatePlacementGroup(ctx context.Context, spec backend.PlacementGroupSpec) (backend.PlacementGroupInfo, error) {
	m := wire.FromCreatePlacementGroup(spec)
	m.Origin = origin(ctx)
	res, err := c.do(ctx, wire.TypeCreatePlacementGroup, &m)
	return res.Group.Backend(), err
}

func (c *client) WaitPlacementGroup(ctx context.Context, id backend.PlacementGroupID, timeout time.Duration) (bool, error) {
	res, err := c.do(ctx, wire.TypeWaitPlacementGroup, &wire.WaitPlacementGroup{Origin: origin(ctx), ID: string(id), Timeout: wire.TimeoutSeconds(timeout)})
	if err != nil {
		if ctx.Err() != nil {
			return false, nil // the caller checks ctx
		}
		return false, err
	}
	return len(res.Ready) == 1 && res.Ready[0], nil
}

func (c *client) RemovePlacementGroup(ctx context.Context, id backend.PlacementGroupID) error {
	_, err := c.do(ctx, wire.TypeRemovePlacementGroup, &wire.RemovePlacementGroup{Origin: origin(ctx), ID: string(id)})
	return err
}

func (c *client) GetPlacementGroup(ctx context.Context, name, namespace string) (backend.PlacementGroupInfo, error) {
	res, err := c.do(ctx, wire.TypeGetPlacementGroup, &wire.GetPlacementGroup{Origin: origin(ctx), Name: name, Namespace: namespace})
	return res.Group.Backend(), err
}

// handlePlacement serves a nested placement-group request with the host's support for them.
func (p *Process) handlePlacement(ctx context.Context, f wire.Frame) wire.Result {
	pgs, ok := p.host.(backend.PlacementGroups)
	if !ok {
		return errResult(&fray.UnsupportedError{Backend: p.host.Backend(), Feature: "placement groups",
			Hint: "the worker's host has none; schedule without TaskOptions.Placement / ActorOptions.Placement"})
	}
	bad := func(err error) wire.Result {
		return errResult(&fray.SerializationError{Type: f.Type.String(), Op: "decode", Cause: err})
	}
	groupResult := func(info backend.PlacementGroupInfo, err error) wire.Result {
		if err != nil {
			return errResult(err)
		}
		return wire.Result{Group: wire.FromPlacementGroupInfo(info)}
	}
	switch f.Type {
	case wire.TypeCreatePlacementGroup:
		var m wire.CreatePlacementGroup
		if err := f.Decode(&m); err != nil {
			return bad(err)
		}
		spec, err := m.Spec()
		if err != nil {
			return errResult(err)
		}
		return groupResult(pgs.CreatePlacementGroup(p.withOrigin(ctx, m.Origin), spec))
	case wire.TypeWaitPlacementGroup:
		var m wire.WaitPlacementGroup
		if err := f.Decode(&m); err != nil {
			return bad(err)
		}
		ready, err := pgs.WaitPlacementGroup(p.withOrigin(ctx, m.Origin), backend.PlacementGroupID(m.ID), wire.TimeoutDuration(m.Timeout))
		if err != nil {
			return errResult(err)
		}
		return wire.Result{Ready: []bool{ready}}
	case wire.TypeRemovePlacementGroup:
		var m wire.RemovePlacementGroup
		if err := f.Decode(&m); err != nil {
			return bad(err)
		}
		return emptyResult(pgs.RemovePlacementGroup(p.withOrigin(ctx, m.Origin), backend.PlacementGroupID(m.ID)))
	case wire.TypeGetPlacementGroup:
		var m wire.GetPlacementGroup
		if err := f.Decode(&m); err != nil {
			return bad(err)
		}
		return groupResult(pgs.GetPlacementGroup(p.withOrigin(ctx, m.Origin), m.Name, m.Namespace))
	}
	return errResult(&fray.UnsupportedError{Backend: "worker parent", Feature: "message " + f.Type.String()})
}
