package local_test

import (
	"testing"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
)

// BenchmarkPlacementGroupCreateRemove is Ray's microbenchmark row "placement group
// create/removal" on the local backend: create a one-bundle group, wait until it is ready,
// remove it.
func BenchmarkPlacementGroupCreateRemove(b *testing.B) {
	_, ctx := newJob(b, local.Options{Resources: fray.Resources{fray.CPU: 4}})
	opts := fray.PlacementGroupOptions{Bundles: []fray.Resources{{fray.CPU: 1}}}
	b.ReportAllocs()
	for b.Loop() {
		g, err := fray.CreatePlacementGroup(ctx, opts)
		if err != nil {
			b.Fatal(err)
		}
		if err := g.Ready(ctx, fray.Forever); err != nil {
			b.Fatal(err)
		}
		if err := g.Remove(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "groups/s")
}
