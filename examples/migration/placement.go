package migration

import (
	"context"
	"fmt"
	"time"

	"github.com/fray-go/fray"
)

// ShardWorker is one tensor-parallel worker of a model: it holds its shard of the weights
// (here just its rank) for the actor's life.
type ShardWorker struct{ rank, world int }

// NewShardWorker starts the worker of rank Rank out of World.
var NewShardWorker = fray.NewActor("migration.ShardWorker", func(ctx context.Context, a ShardArg) (*ShardWorker, error) {
	return &ShardWorker{rank: a.Rank, world: a.World}, nil
})

// ShardArg is a ShardWorker's constructor argument.
type ShardArg struct{ Rank, World int }

// Generate is one worker's part of a generation step.
var Generate = fray.NewMethod(NewShardWorker, "Generate", func(w *ShardWorker, ctx context.Context, prompt string) (string, error) {
	return fmt.Sprintf("%s[%d/%d]", prompt, w.rank, w.world), nil
})

// ServeTensorParallel starts world workers, one GPU-sized bundle each, gang-scheduled on
// one node with STRICT_PACK (vLLM's tensor-parallel layout), runs one step on all of them
// and removes the group. bundle is each worker's share, e.g. {"GPU": 1} or {"CPU": 1}.
func ServeTensorParallel(ctx context.Context, world int, bundle fray.Resources, prompt string) ([]string, error) {
	// snippet:placement-groups
	bundles := make([]fray.Resources, world)
	for i := range bundles {
		bundles[i] = bundle
	}
	pg, err := fray.CreatePlacementGroup(ctx, fray.PlacementGroupOptions{
		Name:     "llm-tp",
		Bundles:  bundles,
		Strategy: fray.StrictPack, // every bundle on one node, or none
	})
	if err != nil {
		return nil, err // e.g. fray.ErrInfeasible: no node could ever hold them all
	}
	defer pg.Remove(ctx) // frees the reservation; actors placed in it die
	if err := pg.Ready(ctx, 5*time.Minute); err != nil {
		return nil, err // *fray.PlacementGroupTimeoutError: the cluster has no room yet
	}
	refs := make([]fray.Ref[string], world)
	for rank := range world {
		w, err := NewShardWorker.Create(ctx, ShardArg{Rank: rank, World: world}, fray.ActorOptions{
			Resources: bundle,
			Placement: &fray.PlacementOptions{Group: pg, Bundle: rank},
		})
		if err != nil {
			return nil, err
		}
		if refs[rank], err = Generate.Remote(ctx, w, prompt); err != nil {
			return nil, err
		}
	}
	return fray.GetAll(ctx, refs)
	// end snippet:placement-groups
}
