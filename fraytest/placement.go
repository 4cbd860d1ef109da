package fraytest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

// The PlacementGroups group: placement groups as Ray has them (MIGRATION.md,
// "Placement groups"), on every backend that implements backend.PlacementGroups. A backend
// without them must refuse every call with fray.ErrUnsupported.

func placementCases() []testCase {
	return []testCase{
		{"ValidationTable", testPGValidation},
		{"ReadyRunRemove", testPGReadyRunRemove},
		{"PendingUntilRoom", testPGPending},
		{"BundleDrawsFromReservation", testPGReservation},
		{"RemoveFailsWork", testPGRemoveFailsWork},
		{"StrategiesTheClusterCannotMeet", testPGInfeasible},
		{"NamedAndLifetime", testPGNamedLifetime},
		{"HandlePassedToTasks", testPGHandleInTask},
		{"CreatedInsideATask", testPGInsideTask},
	}
}

// pgSquareArg asks squareIn to square X in bundle Bundle of Group.
type pgSquareArg struct {
	Group  fray.PlacementGroup
	Bundle int
	X      int
}

// squareIn runs square in a bundle of the group it is handed, from inside a task.
var squareIn = fray.NewTask("fraytest.squareIn", func(ctx context.Context, a pgSquareArg) (int, error) {
	return square.Call(ctx, a.X, fray.TaskOptions{Placement: &fray.PlacementOptions{Group: a.Group, Bundle: a.Bundle}})
})

// pgRoundTrip creates a one-bundle group from inside a task, waits for it, squares X in
// it, looks it up by Name, and removes it: every placement-group call made from a worker.
var pgRoundTrip = fray.NewTask("fraytest.pgRoundTrip", func(ctx context.Context, a pgRoundTripArg) (int, error) {
	g, err := fray.CreatePlacementGroup(ctx, fray.PlacementGroupOptions{Name: a.Name, Bundles: []fray.Resources{{fray.CPU: 0.5}}})
	if err != nil {
		return 0, err
	}
	defer g.Remove(ctx)
	if err := g.Ready(ctx, fray.Forever); err != nil {
		return 0, err
	}
	found, err := fray.GetPlacementGroup(ctx, a.Name, "")
	if err != nil {
		return 0, err
	}
	if found.ID() != g.ID() {
		return 0, fmt.Errorf("GetPlacementGroup found %v, want %v", found, g)
	}
	v, err := square.Call(ctx, a.X, fray.TaskOptions{Resources: fray.Resources{fray.CPU: 0.5}, Placement: &fray.PlacementOptions{Group: found}})
	if err != nil {
		return 0, err
	}
	if err := g.Remove(ctx); err != nil {
		return 0, err
	}
	return v, nil
})

// pgRoundTripArg is pgRoundTrip's argument.
type pgRoundTripArg struct {
	Name string
	X    int
}

// hasPG reports whether the backend implements placement groups. Without them it checks
// instead that they are refused with fray.ErrUnsupported, and the subtest ends there.
func (s *env) hasPG() bool {
	s.Helper()
	if _, ok := s.JC.(backend.PlacementGroups); ok {
		return true
	}
	_, err := fray.CreatePlacementGroup(s.Ctx, fray.PlacementGroupOptions{Bundles: []fray.Resources{{fray.CPU: 1}}})
	s.wantErr(err, fray.ErrUnsupported, "CreatePlacementGroup on a backend without placement groups")
	_, err = fray.GetPlacementGroup(s.Ctx, "g", "")
	s.wantErr(err, fray.ErrUnsupported, "GetPlacementGroup on a backend without placement groups")
	return false
}

func (s *env) newPG(ctx context.Context, opts fray.PlacementGroupOptions) fray.PlacementGroup {
	s.Helper()
	g, err := fray.CreatePlacementGroup(ctx, opts)
	s.must(err, "CreatePlacementGroup")
	s.Cleanup(func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = g.Remove(rctx)
	})
	return g
}

func (s *env) readyPG(ctx context.Context, opts fray.PlacementGroupOptions) fray.PlacementGroup {
	s.Helper()
	g := s.newPG(ctx, opts)
	s.must(g.Ready(ctx, fray.Forever), "Ready")
	return g
}

func in(g fray.PlacementGroup, bundle int) *fray.PlacementOptions {
	return &fray.PlacementOptions{Group: g, Bundle: bundle}
}

// eventually retries check until it returns nil or the subtest's ctx ends; for state that
// a backend settles asynchronously (Ray removes a closed job's groups in its own time).
func (s *env) eventually(what string, check func() error) {
	s.Helper()
	var err error
	for s.Ctx.Err() == nil {
		if err = check(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Fatalf("%s: still %v when the subtest's time ran out", what, err)
}

func testPGValidation(s *env) {
	if !s.hasPG() {
		return
	}
	for _, c := range []struct {
		name string
		opts fray.PlacementGroupOptions
		want error
	}{
		{"no bundles", fray.PlacementGroupOptions{}, fray.ErrInvalidArgument},
		{"empty bundle", fray.PlacementGroupOptions{Bundles: []fray.Resources{{}}}, fray.ErrInvalidResources},
		{"all-zero bundle", fray.PlacementGroupOptions{Bundles: []fray.Resources{{fray.CPU: 0}}}, fray.ErrInvalidResources},
		{"negative amount", fray.PlacementGroupOptions{Bundles: []fray.Resources{{fray.CPU: -1}}}, fray.ErrInvalidResources},
		{"Ray keyword", fray.PlacementGroupOptions{Bundles: []fray.Resources{{"num_cpus": 1}}}, fray.ErrInvalidResources},
		{"unknown strategy", fray.PlacementGroupOptions{Bundles: []fray.Resources{{fray.CPU: 1}}, Strategy: 9}, fray.ErrInvalidArgument},
	} {
		_, err := fray.CreatePlacementGroup(s.Ctx, c.opts)
		if !errors.Is(err, c.want) {
			s.Errorf("group with %s: got %v, want %v", c.name, err, c.want)
		}
	}
	g := s.newPG(s.Ctx, fray.PlacementGroupOptions{Bundles: []fray.Resources{{fray.CPU: 1}, {fray.CPU: 0.5}}})
	for _, c := range []struct {
		name string
		opts fray.TaskOptions
		want error
	}{
		{"bundle index past the end", fray.TaskOptions{Placement: in(g, 2)}, fray.ErrPlacement},
		{"bundle index below -1", fray.TaskOptions{Placement: in(g, -2)}, fray.ErrPlacement},
		{"default 1 CPU in a half-CPU bundle", fray.TaskOptions{Placement: in(g, 1)}, fray.ErrPlacement},
		{"2 CPUs in any bundle", fray.TaskOptions{Resources: fray.Resources{fray.CPU: 2}, Placement: in(g, fray.AnyBundle)}, fray.ErrPlacement},
		{"a resource the bundle lacks", fray.TaskOptions{Resources: fray.Resources{s.b.Scarce: 1}, Placement: in(g, 0)}, fray.ErrPlacement},
		{"zero group", fray.TaskOptions{Placement: &fray.PlacementOptions{}}, fray.ErrInvalidArgument},
	} {
		err := sub(square.Remote(s.Ctx, 1, c.opts)).outcome(s)
		if !errors.Is(err, c.want) {
			s.Errorf("task with %s: got %v, want %v", c.name, err, c.want)
		}
	}
	_, err := Counter.Create(s.Ctx, 0, fray.ActorOptions{Resources: fray.Resources{fray.CPU: 1}, Placement: in(g, 1)})
	s.wantErr(err, fray.ErrPlacement, "actor with 1 CPU in a half-CPU bundle")
	s.wantContains(err, "actor with 1 CPU in a half-CPU bundle", "bundle 1")
}

func testPGReadyRunRemove(s *env) {
	if !s.hasPG() {
		return
	}
	g := s.readyPG(s.Ctx, fray.PlacementGroupOptions{Bundles: []fray.Resources{{fray.CPU: 1}, {fray.CPU: 1}}, Strategy: fray.Pack})
	if len(g.Bundles()) != 2 || g.Bundles()[1][fray.CPU] != 1 || g.Strategy() != fray.Pack || g.ID() == "" {
		s.Fatalf("handle: id %q, bundles %v, strategy %v", g.ID(), g.Bundles(), g.Strategy())
	}
	for _, b := range []int{0, 1, fray.AnyBundle} {
		if v := sub(square.Remote(s.Ctx, b+3, fray.TaskOptions{Placement: in(g, b)})).get(s); v != (b+3)*(b+3) {
			s.Errorf("task in bundle %d = %d", b, v)
		}
	}
	h, err := Counter.Create(s.Ctx, 10, fray.ActorOptions{Placement: in(g, 1)})
	s.must(err, "create an actor in bundle 1")
	if v, err := counterAdd.Call(s.Ctx, h, 1); err != nil || v != 11 {
		s.Fatalf("actor in bundle 1: %d, %v", v, err)
	}
	s.must(g.Remove(s.Ctx), "Remove")
	s.must(g.Remove(s.Ctx), "Remove of a removed group")
}

func testPGPending(s *env) {
	if !s.hasPG() {
		return
	}
	name, n := s.scarce()
	all := make([]fray.Resources, n)
	for i := range all {
		all[i] = fray.Resources{name: 1}
	}
	first := s.readyPG(s.Ctx, fray.PlacementGroupOptions{Bundles: all})
	second := s.newPG(s.Ctx, fray.PlacementGroupOptions{Bundles: []fray.Resources{{name: 1}}})
	err := second.Ready(s.Ctx, 200*time.Millisecond)
	var te *fray.PlacementGroupTimeoutError
	if !errors.As(err, &te) || !errors.Is(err, fray.ErrTimeout) {
		s.Fatalf("Ready of a group with no room: %v (%T), want a *fray.PlacementGroupTimeoutError", err, err)
	}
	s.wantContains(err, "Ready's timeout error", "not ready")
	s.must(first.Remove(s.Ctx), "remove the first group")
	s.must(second.Ready(s.Ctx, fray.Forever), "Ready once the first group is gone")
}

func testPGReservation(s *env) {
	if !s.hasPG() {
		return
	}
	name, n := s.scarce()
	all := make([]fray.Resources, n)
	for i := range all {
		all[i] = fray.Resources{name: 1}
	}
	g := s.readyPG(s.Ctx, fray.PlacementGroupOptions{Bundles: all})
	res := fray.Resources{name: 1, fray.CPU: 0}
	outside, err := square.Remote(s.Ctx, 2, fray.TaskOptions{Resources: res})
	s.must(err, "submit a task outside the group")
	if v := sub(square.Remote(s.Ctx, 3, fray.TaskOptions{Resources: res, Placement: in(g, 0)})).get(s); v != 9 {
		s.Fatalf("task in the reservation = %d", v)
	}
	ready, _, err := fray.Wait(s.Ctx, []fray.AnyRef{outside}, 1, 100*time.Millisecond)
	s.must(err, "Wait")
	if len(ready) != 0 {
		s.Fatalf("a task needing %s ran although a placement group holds all of it", res)
	}
	s.must(g.Remove(s.Ctx), "Remove")
	if v, err := outside.Get(s.Ctx); err != nil || v != 4 {
		s.Fatalf("the outside task after the group's removal: %d, %v", v, err)
	}
}

func testPGRemoveFailsWork(s *env) {
	if !s.hasPG() {
		return
	}
	rec := s.recorder()
	s.openGateAtCleanup(rec, "gate")
	g := s.readyPG(s.Ctx, fray.PlacementGroupOptions{Bundles: []fray.Resources{{fray.CPU: 1}, {fray.CPU: 1}}})
	var refs []fray.Ref[int]
	for i := range 2 {
		r, err := gatedValue.Remote(s.Ctx, Gated{Rec: rec, StartKey: "start", GateKey: "gate", Value: i}, fray.TaskOptions{Placement: in(g, 0)})
		s.must(err, "submit a gated task in bundle 0")
		refs = append(refs, r)
	}
	s.await(rec, "start", 1) // one runs; the other runs or waits for the bundle
	h, err := Counter.Create(s.Ctx, 0, fray.ActorOptions{Placement: in(g, 1)})
	s.must(err, "create an actor in bundle 1")
	_, err = counterAdd.Call(s.Ctx, h, 1)
	s.must(err, "call the actor")
	s.must(g.Remove(s.Ctx), "Remove")
	for i, r := range refs {
		_, err := r.Get(s.Ctx)
		var re *fray.PlacementGroupRemovedError
		if !errors.As(err, &re) {
			s.Errorf("gated task %d after Remove: %v (%T), want a *fray.PlacementGroupRemovedError", i, err, err)
		}
	}
	s.eventually("a call to an actor of the removed group", func() error {
		_, err := counterAdd.Call(s.Ctx, h, 1)
		if errors.Is(err, fray.ErrActorDied) {
			return nil
		}
		return fmt.Errorf("the call returned %v, not an *fray.ActorDiedError", err)
	})
	err = sub(square.Remote(s.Ctx, 2, fray.TaskOptions{Placement: in(g, 1)})).outcome(s)
	s.wantErr(err, fray.ErrPlacementGroupRemoved, "a task into the removed group")
	_, err = Counter.Create(s.Ctx, 0, fray.ActorOptions{Placement: in(g, 1)})
	s.wantErr(err, fray.ErrPlacementGroupRemoved, "an actor into the removed group")
	s.wantErr(g.Ready(s.Ctx, time.Second), fray.ErrPlacementGroupRemoved, "Ready of the removed group")
}

func testPGInfeasible(s *env) {
	if !s.hasPG() {
		return
	}
	name, n := s.scarce()
	nodes := max(s.b.Nodes, 1)
	spread := make([]fray.Resources, nodes+1)
	for i := range spread {
		spread[i] = fray.Resources{fray.CPU: 0.01}
	}
	cases := []struct {
		what string
		opts fray.PlacementGroupOptions
		also error
	}{
		{"STRICT_SPREAD with more bundles than nodes", fray.PlacementGroupOptions{Bundles: spread, Strategy: fray.StrictSpread}, fray.ErrPlacement},
		{"a bundle larger than the cluster", fray.PlacementGroupOptions{Bundles: []fray.Resources{{name: float64(n + 1)}}}, nil},
	}
	for _, c := range cases {
		g, err := fray.CreatePlacementGroup(s.Ctx, c.opts)
		if s.b.Caps.InfeasibleFailsFast {
			if !errors.Is(err, fray.ErrInfeasible) || (c.also != nil && !errors.Is(err, c.also)) {
				s.Errorf("%s: got %v (%T), want an error matching fray.ErrInfeasible", c.what, err, err)
			}
			continue
		}
		s.must(err, c.what)
		s.wantErr(g.Ready(s.Ctx, 200*time.Millisecond), fray.ErrTimeout, c.what+": Ready")
		s.must(g.Remove(s.Ctx), c.what+": Remove")
	}
	// One bundle is always spread.
	s.readyPG(s.Ctx, fray.PlacementGroupOptions{Bundles: []fray.Resources{{fray.CPU: 0.01}}, Strategy: fray.StrictSpread})
}

func testPGNamedLifetime(s *env) {
	if !s.hasPG() {
		return
	}
	creator, cctx := s.fresh(Options{})
	_, pctx := s.peer(creator)
	scoped, kept := uniq("fraytest-pg"), uniq("fraytest-pg-detached")
	g := s.readyPG(cctx, fray.PlacementGroupOptions{Name: scoped, Bundles: []fray.Resources{{fray.CPU: 0.5}}})
	if g.Name() != scoped {
		s.Errorf("Name() = %q, want %q", g.Name(), scoped)
	}
	d, err := fray.CreatePlacementGroup(cctx, fray.PlacementGroupOptions{Name: kept, Bundles: []fray.Resources{{fray.CPU: 0.5}}, Lifetime: fray.Detached})
	s.must(err, "create a detached named group")
	_, err = fray.CreatePlacementGroup(pctx, fray.PlacementGroupOptions{Name: scoped, Bundles: []fray.Resources{{fray.CPU: 0.5}}})
	s.wantErr(err, fray.ErrNameTaken, "a second group of the same name")
	found, err := fray.GetPlacementGroup(pctx, scoped, "")
	s.must(err, "peer GetPlacementGroup")
	if found.ID() != g.ID() || len(found.Bundles()) != 1 || found.Bundles()[0][fray.CPU] != 0.5 {
		s.Fatalf("peer found %v, want %v", found, g)
	}
	if v := sub(square.Remote(pctx, 5, fray.TaskOptions{Resources: fray.Resources{fray.CPU: 0.5}, Placement: in(found, 0)})).getIn(s, pctx); v != 25 {
		s.Fatalf("peer's task in the creator's group = %d", v)
	}
	_, err = fray.GetPlacementGroup(pctx, uniq("fraytest-pg-missing"), "")
	s.wantErr(err, fray.ErrUnknownName, "GetPlacementGroup of a name nobody made")
	s.must(creator.Close(), "close the creator")
	s.eventually("GetPlacementGroup of a job-scoped group after its job closed", func() error {
		_, err := fray.GetPlacementGroup(pctx, scoped, "")
		if errors.Is(err, fray.ErrUnknownName) {
			return nil
		}
		return fmt.Errorf("GetPlacementGroup returned %v, not an unknown-name error", err)
	})
	pd, err := fray.GetPlacementGroup(pctx, kept, "")
	s.must(err, "GetPlacementGroup of a detached group after its creator closed")
	if pd.ID() != d.ID() {
		s.Fatalf("found %v, want %v", pd, d)
	}
	s.must(pd.Ready(pctx, fray.Forever), "Ready of the detached group")
	s.must(pd.Remove(pctx), "remove the detached group")
	s.eventually("GetPlacementGroup of a removed group", func() error {
		_, err := fray.GetPlacementGroup(pctx, kept, "")
		if errors.Is(err, fray.ErrUnknownName) {
			return nil
		}
		return fmt.Errorf("GetPlacementGroup returned %v, not an unknown-name error", err)
	})
}

func testPGHandleInTask(s *env) {
	if !s.hasPG() {
		return
	}
	g := s.readyPG(s.Ctx, fray.PlacementGroupOptions{Bundles: []fray.Resources{{fray.CPU: 1}, {fray.CPU: 1}}})
	if v := sub(squareIn.Remote(s.Ctx, pgSquareArg{Group: g, Bundle: 1, X: 7})).get(s); v != 49 {
		s.Fatalf("nested task in bundle 1 = %d", v)
	}
	err := sub(squareIn.Remote(s.Ctx, pgSquareArg{Group: g, Bundle: 5, X: 7})).outcome(s)
	s.wantErr(err, fray.ErrPlacement, "nested task with an out-of-range bundle")
}

func testPGInsideTask(s *env) {
	if !s.hasPG() {
		return
	}
	name := uniq("fraytest-pg-nested")
	if v := sub(pgRoundTrip.Remote(s.Ctx, pgRoundTripArg{Name: name, X: 8}, fray.TaskOptions{Resources: fray.Resources{fray.CPU: 0.5}})).get(s); v != 64 {
		s.Fatalf("placement group made inside a task: square = %d", v)
	}
	s.eventually("the task's group removed", func() error {
		_, err := fray.GetPlacementGroup(s.Ctx, name, "")
		if errors.Is(err, fray.ErrUnknownName) {
			return nil
		}
		return fmt.Errorf("GetPlacementGroup returned %v, not an unknown-name error", err)
	})
}
