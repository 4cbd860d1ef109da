package local_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
)

func pgIn(g fray.PlacementGroup, bundle int) *fray.PlacementOptions {
	return &fray.PlacementOptions{Group: g, Bundle: bundle}
}

func wantCPU(t *testing.T, c *local.Cluster, want float64, when string) {
	t.Helper()
	if got := c.Available()[fray.CPU]; got != want {
		t.Fatalf("%s: %g CPUs free, want %g", when, got, want)
	}
}

// TestPlacementAccounting: a ready group's bundles come out of the free pool, work in a
// bundle draws from the bundle (the free pool does not move), and removal gives it back.
func TestPlacementAccounting(t *testing.T) {
	jc, ctx := newJob(t, local.Options{Resources: fray.Resources{fray.CPU: 4}})
	c := jc.Cluster()
	g := must[fray.PlacementGroup](t)(fray.CreatePlacementGroup(ctx, fray.PlacementGroupOptions{
		Bundles: []fray.Resources{{fray.CPU: 1}, {fray.CPU: 2}}, Strategy: fray.StrictPack}))
	if err := g.Ready(ctx, fray.Forever); err != nil {
		t.Fatal(err)
	}
	wantCPU(t, c, 1, "group ready")

	gate := gn(t, "g")
	r := must[fray.Ref[string]](t)(Block.Remote(ctx, gate, fray.TaskOptions{Resources: fray.Resources{fray.CPU: 2}, Placement: pgIn(g, 1)}))
	<-gates.get(gate).start
	wantCPU(t, c, 1, "a 2-CPU task runs in bundle 1")
	// Bundle 1 is full now: a second task for it queues, though the free pool has a CPU.
	q := must[fray.Ref[int]](t)(Square.Remote(ctx, 3, fray.TaskOptions{Placement: pgIn(g, 1)}))
	if ready, _, _ := fray.Wait(ctx, []fray.AnyRef{q}, 1, 20*time.Millisecond); len(ready) != 0 {
		t.Fatal("a task ran in a full bundle")
	}
	// Any bundle: bundle 0 has room.
	if v := must[int](t)(Square.Call(ctx, 4, fray.TaskOptions{Placement: pgIn(g, fray.AnyBundle)})); v != 16 {
		t.Fatalf("any bundle: %d", v)
	}
	close(gates.get(gate).open)
	if v := must[int](t)(q.Get(ctx)); v != 9 {
		t.Fatalf("queued bundle task: %d", v)
	}
	must[string](t)(r.Get(ctx))
	wantCPU(t, c, 1, "bundle work done")
	if err := g.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	wantCPU(t, c, 4, "group removed")
	if err := g.Remove(ctx); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
}

// TestPlacementPendingUntilRoom: a group that does not fit stays pending (Ready times out
// with a typed error) and is placed once room is made.
func TestPlacementPendingUntilRoom(t *testing.T) {
	jc, ctx := newJob(t, local.Options{Resources: fray.Resources{fray.CPU: 2}})
	first := must[fray.PlacementGroup](t)(fray.CreatePlacementGroup(ctx, fray.PlacementGroupOptions{Bundles: []fray.Resources{{fray.CPU: 2}}}))
	must[struct{}](t)(struct{}{}, first.Ready(ctx, fray.Forever))
	second := must[fray.PlacementGroup](t)(fray.CreatePlacementGroup(ctx, fray.PlacementGroupOptions{Bundles: []fray.Resources{{fray.CPU: 1}, {fray.CPU: 1}}}))
	err := second.Ready(ctx, 10*time.Millisecond)
	var te *fray.PlacementGroupTimeoutError
	if !errors.As(err, &te) || !errors.Is(err, fray.ErrTimeout) || !strings.Contains(err.Error(), "free resources") {
		t.Fatalf("Ready of a group that does not fit: %v, want *fray.PlacementGroupTimeoutError", err)
	}
	if err := second.Ready(ctx, 0); !errors.Is(err, fray.ErrTimeout) {
		t.Fatalf("Ready(0) polls: %v", err)
	}
	// Work queued into the pending group waits for it.
	r := must[fray.Ref[int]](t)(Square.Remote(ctx, 5, fray.TaskOptions{Placement: pgIn(second, 1)}))
	must[struct{}](t)(struct{}{}, first.Remove(ctx))
	must[struct{}](t)(struct{}{}, second.Ready(ctx, fray.Forever))
	if v := must[int](t)(r.Get(ctx)); v != 25 {
		t.Fatalf("task of a group placed late: %d", v)
	}
	wantCPU(t, jc.Cluster(), 0, "second group ready")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	third := must[fray.PlacementGroup](t)(fray.CreatePlacementGroup(ctx, fray.PlacementGroupOptions{Bundles: []fray.Resources{{fray.CPU: 1}}}))
	if err := third.Ready(cctx, fray.Forever); !errors.Is(err, context.Canceled) {
		t.Fatalf("Ready with a cancelled ctx: %v", err)
	}
}

// TestPlacementOneNodeStrategies: strategies a single node cannot meet fail at creation.
func TestPlacementOneNodeStrategies(t *testing.T) {
	_, ctx := newJob(t, local.Options{Resources: fray.Resources{fray.CPU: 4, "widget": 1}})
	for _, tc := range []struct {
		name    string
		opts    fray.PlacementGroupOptions
		want    []error // nil: created
		mention string
	}{
		{"strict spread of one", fray.PlacementGroupOptions{Bundles: []fray.Resources{{fray.CPU: 1}}, Strategy: fray.StrictSpread}, nil, ""},
		{"spread of two", fray.PlacementGroupOptions{Bundles: []fray.Resources{{fray.CPU: 1}, {fray.CPU: 1}}, Strategy: fray.Spread}, nil, ""},
		{"strict spread of two", fray.PlacementGroupOptions{Bundles: []fray.Resources{{fray.CPU: 1}, {fray.CPU: 1}}, Strategy: fray.StrictSpread},
			[]error{fray.ErrPlacement, fray.ErrInfeasible}, "single node"},
		{"bundles above the node", fray.PlacementGroupOptions{Bundles: []fray.Resources{{fray.CPU: 3}, {fray.CPU: 2}}, Strategy: fray.Pack},
			[]error{fray.ErrInfeasible}, "CPU"},
		{"a resource the node lacks", fray.PlacementGroupOptions{Bundles: []fray.Resources{{"gadget": 1}}}, []error{fray.ErrInfeasible}, "gadget"},
		{"custom resource twice", fray.PlacementGroupOptions{Bundles: []fray.Resources{{"widget": 1}, {"widget": 1}}}, []error{fray.ErrInfeasible}, "widget"},
		{"no bundles", fray.PlacementGroupOptions{}, []error{fray.ErrInvalidArgument}, "at least one bundle"},
	} {
		g, err := fray.CreatePlacementGroup(ctx, tc.opts)
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			_ = g.Remove(ctx)
			continue
		}
		for _, w := range tc.want {
			if !errors.Is(err, w) {
				t.Errorf("%s: got %v, want %v", tc.name, err, w)
			}
		}
		if err != nil && !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("%s: %q does not mention %q", tc.name, err, tc.mention)
		}
	}
}

// TestPlacementRemoveFailsWork: removal fails queued and running tasks with
// ErrPlacementGroupRemoved, kills the group's actors, and frees the reservation at once.
func TestPlacementRemoveFailsWork(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			jc, ctx := newJob(t, local.Options{Resources: fray.Resources{fray.CPU: 4}, DirectValues: m.direct})
			g := must[fray.PlacementGroup](t)(fray.CreatePlacementGroup(ctx, fray.PlacementGroupOptions{Bundles: []fray.Resources{{fray.CPU: 1}, {fray.CPU: 1}}}))
			must[struct{}](t)(struct{}{}, g.Ready(ctx, fray.Forever))
			gate := gn(t, "run")
			running := must[fray.Ref[string]](t)(Block.Remote(ctx, gate, fray.TaskOptions{Placement: pgIn(g, 0)}))
			<-gates.get(gate).start
			queued := must[fray.Ref[string]](t)(Block.Remote(ctx, gn(t, "q"), fray.TaskOptions{Placement: pgIn(g, 0)}))
			h := must[fray.ActorHandle[CounterState]](t)(Counter.Create(ctx, 1, fray.ActorOptions{Resources: fray.Resources{fray.CPU: 1}, Placement: pgIn(g, 1)}))
			if v := must[int](t)(Add.Call(ctx, h, 1)); v != 2 {
				t.Fatalf("actor in bundle: %d", v)
			}
			must[struct{}](t)(struct{}{}, g.Remove(ctx))
			for name, r := range map[string]fray.Ref[string]{"running": running, "queued": queued} {
				_, err := r.Get(ctx)
				var re *fray.PlacementGroupRemovedError
				if !errors.As(err, &re) || !errors.Is(err, fray.ErrPlacementGroupRemoved) {
					t.Errorf("%s task: %v, want *fray.PlacementGroupRemovedError", name, err)
				}
			}
			_, err := Add.Call(ctx, h, 1)
			var ad *fray.ActorDiedError
			if !errors.As(err, &ad) || !strings.Contains(ad.Reason, "removed") {
				t.Errorf("actor of a removed group: %v, want *fray.ActorDiedError naming the removal", err)
			}
			wantCPU(t, jc.Cluster(), 4, "group removed")
			// Scheduling into a removed group fails (at submission or from Get).
			r, err := Square.Remote(ctx, 2, fray.TaskOptions{Placement: pgIn(g, 0)})
			if err == nil {
				_, err = r.Get(ctx)
			}
			if !errors.Is(err, fray.ErrPlacementGroupRemoved) {
				t.Errorf("task into a removed group: %v", err)
			}
			if _, err := Counter.Create(ctx, 0, fray.ActorOptions{Placement: pgIn(g, 0)}); !errors.Is(err, fray.ErrPlacementGroupRemoved) {
				t.Errorf("actor into a removed group: %v", err)
			}
			if err := g.Ready(ctx, time.Second); !errors.Is(err, fray.ErrPlacementGroupRemoved) {
				t.Errorf("Ready of a removed group: %v", err)
			}
		})
	}
}

// TestPlacementNamedAndLifetime: named groups are found from another job on the cluster;
// job-scoped ones go with their job, detached ones stay.
func TestPlacementNamedAndLifetime(t *testing.T) {
	c := newCluster(t, fray.Resources{fray.CPU: 4})
	j1, ctx1 := newJob(t, local.Options{Cluster: c})
	_, ctx2 := newJob(t, local.Options{Cluster: c})
	scoped := must[fray.PlacementGroup](t)(fray.CreatePlacementGroup(ctx1, fray.PlacementGroupOptions{Name: "scoped", Bundles: []fray.Resources{{fray.CPU: 1}}}))
	must[fray.PlacementGroup](t)(fray.CreatePlacementGroup(ctx1, fray.PlacementGroupOptions{Name: "kept", Namespace: "other", Bundles: []fray.Resources{{fray.CPU: 1}}, Lifetime: fray.Detached}))
	if _, err := fray.CreatePlacementGroup(ctx2, fray.PlacementGroupOptions{Name: "scoped", Bundles: []fray.Resources{{fray.CPU: 1}}}); !errors.Is(err, fray.ErrNameTaken) {
		t.Fatalf("a taken name: %v", err)
	}
	found := must[fray.PlacementGroup](t)(fray.GetPlacementGroup(ctx2, "scoped", ""))
	if found.ID() != scoped.ID() || len(found.Bundles()) != 1 || found.Namespace() != "default" {
		t.Fatalf("GetPlacementGroup = %v, want %v", found, scoped)
	}
	must[struct{}](t)(struct{}{}, found.Ready(ctx2, fray.Forever))
	if v := must[int](t)(Square.Call(ctx2, 6, fray.TaskOptions{Placement: pgIn(found, 0)})); v != 36 {
		t.Fatalf("task in another job's group: %d", v)
	}
	if _, err := fray.GetPlacementGroup(ctx2, "kept", ""); !errors.Is(err, fray.ErrUnknownName) {
		t.Fatalf("a name in another namespace: %v", err)
	}
	wantCPU(t, c, 2, "two groups")
	_ = j1.Close()
	if _, err := fray.GetPlacementGroup(ctx2, "scoped", ""); !errors.Is(err, fray.ErrUnknownName) {
		t.Fatalf("job-scoped group after its job closed: %v", err)
	}
	kept := must[fray.PlacementGroup](t)(fray.GetPlacementGroup(ctx2, "kept", "other"))
	wantCPU(t, c, 3, "job-scoped group removed with its job")
	must[struct{}](t)(struct{}{}, kept.Remove(ctx2))
	wantCPU(t, c, 4, "detached group removed")
	if _, err := fray.GetPlacementGroup(ctx2, "kept", "other"); !errors.Is(err, fray.ErrUnknownName) {
		t.Fatalf("removed group's name: %v", err)
	}
}

// TestPlacementNestedLendsBundleCPU: a task blocked in Get inside a one-CPU bundle lends the
// bundle's CPU to its nested tasks in the same bundle, so they do not deadlock.
func TestPlacementNestedLendsBundleCPU(t *testing.T) {
	_, ctx := newJob(t, local.Options{Resources: fray.Resources{fray.CPU: 2}})
	g := must[fray.PlacementGroup](t)(fray.CreatePlacementGroup(ctx, fray.PlacementGroupOptions{Bundles: []fray.Resources{{fray.CPU: 1}}}))
	must[struct{}](t)(struct{}{}, g.Ready(ctx, fray.Forever))
	if v := must[int](t)(InGroup.Call(ctx, g, fray.TaskOptions{Placement: pgIn(g, 0)})); v != 14 {
		t.Fatalf("nested in bundle: %d", v)
	}
}

// InGroup runs Square of 1, 2 and 3 in bundle 0 of the group it is given, from inside a
// task of that bundle, and sums them.
var InGroup = fray.NewTask("localtest.inGroup", func(ctx context.Context, g fray.PlacementGroup) (int, error) {
	sum := 0
	for i := 1; i <= 3; i++ {
		v, err := Square.Call(ctx, i, fray.TaskOptions{Placement: &fray.PlacementOptions{Group: g}})
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
})

// TestPlacementActorHoldsBundle: an actor's held resources come out of its bundle for its
// life and go back to the bundle (not the free pool) when it dies.
func TestPlacementActorHoldsBundle(t *testing.T) {
	jc, ctx := newJob(t, local.Options{Resources: fray.Resources{fray.CPU: 2}})
	g := must[fray.PlacementGroup](t)(fray.CreatePlacementGroup(ctx, fray.PlacementGroupOptions{Bundles: []fray.Resources{{fray.CPU: 1}}}))
	must[struct{}](t)(struct{}{}, g.Ready(ctx, fray.Forever))
	h := must[fray.ActorHandle[CounterState]](t)(Counter.Create(ctx, 0, fray.ActorOptions{Resources: fray.Resources{fray.CPU: 1}, Placement: pgIn(g, 0)}))
	must[int](t)(Add.Call(ctx, h, 1))
	q := must[fray.Ref[int]](t)(Square.Remote(ctx, 3, fray.TaskOptions{Placement: pgIn(g, 0)}))
	if ready, _, _ := fray.Wait(ctx, []fray.AnyRef{q}, 1, 20*time.Millisecond); len(ready) != 0 {
		t.Fatal("a task ran in a bundle whose CPU an actor holds")
	}
	wantCPU(t, jc.Cluster(), 1, "actor in the bundle")
	must[struct{}](t)(struct{}{}, h.Kill(ctx))
	if v := must[int](t)(q.Get(ctx)); v != 9 {
		t.Fatalf("task after the actor died: %d", v)
	}
	wantCPU(t, jc.Cluster(), 1, "actor dead, group still there")
}

// TestPlacementReadyLendsCPUToGroup: a task holding one of the node's two CPUs creates a
// group of two one-CPU bundles and waits in Ready; the CPU it lends meanwhile is what
// places the group (the pipeline's cross-validation). Before the fix, lending dispatched
// queued tasks but left the pending group pending until some other task finished.
func TestPlacementReadyLendsCPUToGroup(t *testing.T) {
	jc, ctx := newJob(t, local.Options{Resources: fray.Resources{fray.CPU: 2}})
	if v := must[int](t)(GangOfTwo.Call(ctx, struct{}{})); v != 2 {
		t.Fatalf("gang of two: %d", v)
	}
	wantCPU(t, jc.Cluster(), 2, "task done, group removed")
}

// GangOfTwo creates a STRICT_PACK group of two one-CPU bundles from inside a task, waits
// for it (at most 30s: the bug this guards against waited forever), runs Square in each
// bundle and returns how many ran.
var GangOfTwo = fray.NewTask("localtest.gangOfTwo", func(ctx context.Context, _ struct{}) (int, error) {
	g, err := fray.CreatePlacementGroup(ctx, fray.PlacementGroupOptions{
		Bundles: []fray.Resources{{fray.CPU: 1}, {fray.CPU: 1}}, Strategy: fray.StrictPack})
	if err != nil {
		return 0, err
	}
	defer g.Remove(context.WithoutCancel(ctx))
	if err := g.Ready(ctx, 30*time.Second); err != nil {
		return 0, err
	}
	n := 0
	for b := 0; b < 2; b++ {
		if _, err := Square.Call(ctx, b, fray.TaskOptions{Placement: pgIn(g, b)}); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
})
