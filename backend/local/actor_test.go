package local_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
)

func TestActorBasics(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			_, ctx := newJob(t, local.Options{DirectValues: m.direct})
			h := must[fray.ActorHandle[CounterState]](t)(Counter.Create(ctx, 10))
			if got := must[int](t)(Add.Call(ctx, h, 5)); got != 15 {
				t.Fatal(got)
			}
			// MaxConcurrency 1: calls run in submission order.
			const n = 500
			refs := make([]fray.Ref[int], n)
			for i := range refs {
				refs[i] = must[fray.Ref[int]](t)(Record.Remote(ctx, h, i))
			}
			calls := must[[]int](t)(Calls.Call(ctx, h, 0))
			for i, c := range calls {
				if c != i {
					t.Fatalf("call %d ran as number %d", c, i)
				}
			}
			// A panicking method fails that call; the actor keeps its state.
			_, err := Boom.Call(ctx, h, "kaboom")
			var te *fray.TaskError
			if !errors.As(err, &te) || !te.Panic || te.Stack == "" || te.Task != "localtest.Counter.Boom" {
				t.Fatalf("Boom: %v", err)
			}
			if got := must[int](t)(Add.Call(ctx, h, 1)); got != 16 {
				t.Fatalf("state after a panic: %d, want 16", got)
			}
			// Handles travel into tasks; methods can submit tasks.
			if got := must[int](t)(CallCounter.Call(ctx, h)); got != 26 {
				t.Fatalf("call through a handle passed to a task: %d", got)
			}
			if got := must[int](t)(Sub.Call(ctx, h, 7)); got != 49 {
				t.Fatal(got)
			}
			// Ref arguments: resolved before the call; a failed one fails the call unrun.
			p := must[fray.Ref[int]](t)(fray.Put(ctx, 4))
			if got := must[int](t)(must[fray.Ref[int]](t)(Add.RemoteRef(ctx, h, p)).Get(ctx)); got != 30 {
				t.Fatal(got)
			}
			bad := must[fray.Ref[int]](t)(Fail.Remote(ctx, "no value"))
			_, err1 := bad.Get(ctx)
			_, err2 := must[fray.Ref[int]](t)(Add.RemoteRef(ctx, h, bad)).Get(ctx)
			if err1 == nil || err2 != err1 {
				t.Fatalf("%v / %v", err1, err2)
			}
			if got := must[int](t)(Add.Call(ctx, h, 0)); got != 30 {
				t.Fatalf("a call whose argument failed ran: state %d", got)
			}
		})
	}
}

func TestActorConstructorFailure(t *testing.T) {
	_, ctx := newJob(t, local.Options{})
	h, err := Counter.Create(ctx, -1, fray.ActorOptions{Name: "broken"})
	if err != nil {
		t.Fatalf("Create is asynchronous; got %v", err)
	}
	for range 2 {
		_, err = Add.Call(ctx, h, 1)
		var ad *fray.ActorDiedError
		if !errors.As(err, &ad) || !strings.Contains(ad.Reason, "negative start -1") || ad.Name != "broken" {
			t.Fatalf("call on an actor whose constructor failed: %v", err)
		}
	}
	// The name of a dead actor is free again.
	if _, err := Counter.Lookup(ctx, "broken", ""); !errors.Is(err, fray.ErrUnknownName) {
		t.Fatalf("Lookup of a dead actor: %v", err)
	}
	if _, err := Counter.Create(ctx, 1, fray.ActorOptions{Name: "broken"}); err != nil {
		t.Fatal(err)
	}
}

func TestNamedActors(t *testing.T) {
	_, ctx := newJob(t, local.Options{Namespace: "ns1"})
	h := must[fray.ActorHandle[CounterState]](t)(Counter.Create(ctx, 1, fray.ActorOptions{Name: "c"}))
	if h.Namespace() != "ns1" || h.Name() != "c" {
		t.Fatalf("handle %s/%s", h.Namespace(), h.Name())
	}
	if _, err := Counter.Create(ctx, 2, fray.ActorOptions{Name: "c"}); !errors.Is(err, fray.ErrNameTaken) {
		t.Fatalf("duplicate name: %v", err)
	}
	same := must[fray.ActorHandle[CounterState]](t)(Counter.Create(ctx, 100, fray.ActorOptions{Name: "c", GetIfExists: true}))
	if same.ID() != h.ID() {
		t.Fatal("GetIfExists made a new actor")
	}
	if got := must[int](t)(Add.Call(ctx, same, 1)); got != 2 {
		t.Fatalf("GetIfExists did not ignore the new argument: %d", got)
	}
	found := must[fray.ActorHandle[CounterState]](t)(Counter.Lookup(ctx, "c", ""))
	if found.ID() != h.ID() {
		t.Fatal("Lookup found another actor")
	}
	// Names are per namespace.
	other := must[fray.ActorHandle[CounterState]](t)(Counter.Create(ctx, 50, fray.ActorOptions{Name: "c", Namespace: "ns2"}))
	if other.ID() == h.ID() {
		t.Fatal("same actor in two namespaces")
	}
	if got := must[fray.ActorHandle[CounterState]](t)(Counter.Lookup(ctx, "c", "ns2")); got.ID() != other.ID() {
		t.Fatal("Lookup in ns2")
	}
	_, err := Counter.Lookup(ctx, "nobody", "")
	var un *fray.UnknownNameError
	if !errors.As(err, &un) || un.What != "named actor" || un.Name != "nobody" {
		t.Fatalf("Lookup of an unknown name: %v", err)
	}
	// Killing frees the name.
	if err := h.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := Counter.Lookup(ctx, "c", ""); !errors.Is(err, fray.ErrUnknownName) {
		t.Fatalf("Lookup after Kill: %v", err)
	}
}

func TestKillAndRestart(t *testing.T) {
	_, ctx := newJob(t, local.Options{})
	h := must[fray.ActorHandle[CounterState]](t)(Counter.Create(ctx, 0, fray.ActorOptions{MaxRestarts: 1}))
	must[int](t)(Add.Call(ctx, h, 5))
	g := gates.get(gn(t, ""))
	running := must[fray.Ref[string]](t)(Wait.Remote(ctx, h, gn(t, "")))
	<-g.start
	queued := must[fray.Ref[int]](t)(Add.Remote(ctx, h, 1))
	if err := h.Kill(ctx, fray.KillOptions{AllowRestart: true}); err != nil {
		t.Fatal(err)
	}
	var ad *fray.ActorDiedError
	if _, err := running.Get(ctx); !errors.As(err, &ad) || !ad.Restarting {
		t.Fatalf("running call after Kill: %v; want an ActorDiedError saying the actor restarts", err)
	}
	if _, err := queued.Get(ctx); !errors.As(err, &ad) || !ad.Restarting {
		t.Fatalf("queued call after Kill: %v", err)
	}
	// Restarted with a fresh state.
	if got := must[int](t)(Add.Call(ctx, h, 1)); got != 1 {
		t.Fatalf("state after restart: %d, want 1", got)
	}
	// No restarts left: dead for good, also with AllowRestart.
	if err := h.Kill(ctx, fray.KillOptions{AllowRestart: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := Add.Call(ctx, h, 1); !errors.As(err, &ad) || !strings.Contains(ad.Reason, "KillActor") || ad.Restarting {
		t.Fatalf("call on a dead actor: %v", err)
	}
	if err := h.Kill(ctx); err != nil {
		t.Fatalf("killing a dead actor: %v", err)
	}
}

func TestMaxConcurrency(t *testing.T) {
	_, ctx := newJob(t, local.Options{})
	h := must[fray.ActorHandle[CounterState]](t)(Counter.Create(ctx, 0, fray.ActorOptions{MaxConcurrency: 2}))
	a := must[fray.Ref[string]](t)(Wait.Remote(ctx, h, gn(t, "/a")))
	b := must[fray.Ref[string]](t)(Wait.Remote(ctx, h, gn(t, "/b")))
	<-gates.get(gn(t, "/a")).start
	<-gates.get(gn(t, "/b")).start // both run at once
	close(gates.get(gn(t, "/a")).open)
	close(gates.get(gn(t, "/b")).open)
	must[string](t)(a.Get(ctx))
	must[string](t)(b.Get(ctx))
}

func TestCancelActorCall(t *testing.T) {
	_, ctx := newJob(t, local.Options{})
	h := must[fray.ActorHandle[CounterState]](t)(Counter.Create(ctx, 0))
	g := gates.get(gn(t, ""))
	running := must[fray.Ref[string]](t)(Wait.Remote(ctx, h, gn(t, "")))
	<-g.start
	queued := must[fray.Ref[int]](t)(Add.Remote(ctx, h, 1))
	must[struct{}](t)(struct{}{}, fray.Cancel(ctx, queued, false))
	must[struct{}](t)(struct{}{}, fray.Cancel(ctx, running, false))
	var ce *fray.CancelledError
	if _, err := queued.Get(ctx); !errors.As(err, &ce) {
		t.Fatal(err)
	}
	if _, err := running.Get(ctx); !errors.As(err, &ce) {
		t.Fatal(err)
	}
	if got := must[int](t)(Add.Call(ctx, h, 2)); got != 2 {
		t.Fatalf("the cancelled queued call ran: state %d", got)
	}
}

func TestActorResources(t *testing.T) {
	jc, ctx := newJob(t, local.Options{Resources: fray.Resources{fray.CPU: 1}})
	// Default actors need 1 CPU to be placed and hold none afterwards.
	h := must[fray.ActorHandle[CounterState]](t)(Counter.Create(ctx, 0))
	must[int](t)(Add.Call(ctx, h, 1))
	if av := jc.Cluster().Available(); av[fray.CPU] != 1 {
		t.Fatalf("a default actor holds CPU: %v", av)
	}
	// Explicit resources are held for the actor's life: tasks wait until it dies.
	big := must[fray.ActorHandle[CounterState]](t)(Counter.Create(ctx, 0, fray.ActorOptions{Resources: fray.Resources{fray.CPU: 1}}))
	must[int](t)(Add.Call(ctx, big, 1))
	if av := jc.Cluster().Available(); av[fray.CPU] != 0 {
		t.Fatalf("an actor with CPU 1 does not hold it: %v", av)
	}
	r := must[fray.Ref[int]](t)(Square.Remote(ctx, 3))
	if ready, _, _ := fray.WaitRefs(ctx, []fray.Ref[int]{r}, 1, 0); len(ready) != 0 {
		t.Fatal("task ran while the actor held the only CPU")
	}
	must[struct{}](t)(struct{}{}, big.Kill(ctx))
	if got := must[int](t)(r.Get(ctx)); got != 9 {
		t.Fatal(got)
	}
	if av := jc.Cluster().Available(); av[fray.CPU] != 1 {
		t.Fatalf("resources not returned after the actor died: %v", av)
	}
}

func TestDetachedAcrossJobs(t *testing.T) {
	c := newCluster(t, fray.Resources{fray.CPU: 2})
	a, err := local.New(local.Options{Cluster: c, Namespace: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := local.New(local.Options{Cluster: c, Namespace: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	actx := fray.WithJobContext(context.Background(), a)
	bctx := fray.WithJobContext(context.Background(), b)
	must[fray.ActorHandle[CounterState]](t)(Counter.Create(actx, 100, fray.ActorOptions{Name: "detached", Lifetime: fray.Detached}))
	must[fray.ActorHandle[CounterState]](t)(Counter.Create(actx, 200, fray.ActorOptions{Name: "scoped"}))
	scoped := must[fray.ActorHandle[CounterState]](t)(Counter.Lookup(bctx, "scoped", ""))
	if got := must[int](t)(Add.Call(bctx, scoped, 1)); got != 201 {
		t.Fatal(got)
	}
	// A handle from job a cannot be used with job b.
	ha := must[fray.ActorHandle[CounterState]](t)(Counter.Lookup(actx, "detached", ""))
	if _, err := Add.Call(bctx, ha, 1); !errors.Is(err, fray.ErrForeignRef) {
		t.Fatalf("foreign handle: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	var ad *fray.ActorDiedError
	if _, err := Add.Call(bctx, scoped, 1); !errors.As(err, &ad) || !strings.Contains(ad.Reason, "job context") {
		t.Fatalf("job-scoped actor after its job closed: %v", err)
	}
	if _, err := Counter.Lookup(bctx, "scoped", ""); !errors.Is(err, fray.ErrUnknownName) {
		t.Fatalf("Lookup of a dead job-scoped actor: %v", err)
	}
	d := must[fray.ActorHandle[CounterState]](t)(Counter.Lookup(bctx, "detached", ""))
	if got := must[int](t)(Add.Call(bctx, d, 1)); got != 101 {
		t.Fatalf("detached actor after its creator closed: %d", got)
	}
	// A third job context sees the same actor and its state.
	c3, err := local.New(local.Options{Cluster: c, Namespace: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	ctx3 := fray.WithJobContext(context.Background(), c3)
	d3 := must[fray.ActorHandle[CounterState]](t)(Counter.Lookup(ctx3, "detached", ""))
	if got := must[int](t)(Add.Call(ctx3, d3, 1)); got != 102 {
		t.Fatal(got)
	}
	// Closing the cluster kills detached actors and closes the job contexts on it.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Add.Call(ctx3, d3, 1); !errors.Is(err, fray.ErrClosed) {
		t.Fatalf("after the cluster closed: %v", err)
	}
	if _, err := local.New(local.Options{Cluster: c}); !errors.Is(err, fray.ErrClosed) {
		t.Fatalf("attaching to a closed cluster: %v", err)
	}
}

func TestRestartKeepsHeldResources(t *testing.T) {
	jc, ctx := newJob(t, local.Options{Resources: fray.Resources{fray.CPU: 2}})
	h := must[fray.ActorHandle[CounterState]](t)(Counter.Create(ctx, 0, fray.ActorOptions{Resources: fray.Resources{fray.CPU: 1}, MaxRestarts: -1}))
	for i := range 3 {
		if got := must[int](t)(Add.Call(ctx, h, 1)); got != 1 {
			t.Fatalf("restart %d: state %d, want a fresh one", i, got)
		}
		if av := jc.Cluster().Available(); av[fray.CPU] != 1 {
			t.Fatalf("restart %d: available %v, want the actor to hold 1 CPU", i, av)
		}
		must[struct{}](t)(struct{}{}, h.Kill(ctx, fray.KillOptions{AllowRestart: true}))
	}
	must[struct{}](t)(struct{}{}, h.Kill(ctx))
	if av := jc.Cluster().Available(); av[fray.CPU] != 2 {
		t.Fatalf("after the final kill: available %v", av)
	}
}
