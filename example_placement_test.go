package fray_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
)

// Gang-schedule two workers into a STRICT_PACK placement group, one bundle each, then
// remove the group (MIGRATION.md, "Placement groups").
func ExampleCreatePlacementGroup() {
	jc, err := local.New(local.Options{Resources: fray.Resources{fray.CPU: 4}})
	if err != nil {
		log.Fatal(err)
	}
	defer jc.Close()
	ctx := fray.WithJobContext(context.Background(), jc)

	pg, err := fray.CreatePlacementGroup(ctx, fray.PlacementGroupOptions{
		Name:     "train",
		Bundles:  []fray.Resources{{fray.CPU: 1}, {fray.CPU: 1}},
		Strategy: fray.StrictPack,
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := pg.Ready(ctx, time.Minute); err != nil {
		log.Fatal(err) // a *fray.PlacementGroupTimeoutError when the cluster has no room
	}
	var refs []fray.Ref[int]
	for bundle := range pg.Bundles() {
		r, err := Square.Remote(ctx, bundle+2, fray.TaskOptions{
			Placement: &fray.PlacementOptions{Group: pg, Bundle: bundle},
		})
		if err != nil {
			log.Fatal(err)
		}
		refs = append(refs, r)
	}
	vs, err := fray.GetAll(ctx, refs)
	fmt.Println(vs, err, jc.Cluster().Available()[fray.CPU])

	// A task that does not fit its bundle is refused before it is submitted.
	_, err = Square.Remote(ctx, 1, fray.TaskOptions{Resources: fray.Resources{fray.CPU: 2},
		Placement: &fray.PlacementOptions{Group: pg, Bundle: fray.AnyBundle}})
	fmt.Println(errors.Is(err, fray.ErrPlacement))

	if err := pg.Remove(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(jc.Cluster().Available()[fray.CPU])
	// Output:
	// [4 9] <nil> 2
	// true
	// 4
}
