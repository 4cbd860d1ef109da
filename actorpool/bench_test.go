package actorpool_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/actorpool"
	"github.com/fray-go/fray/backend/local"
)

// mapItems is how many items one Map call of the benchmark takes.
const mapItems = 1024

// BenchmarkMap is issue 15's "actor pool Map overhead per item": Map of mapItems items
// over a pool of 2 actors running Double on the local backend (each item one actor call:
// the argument and result encoded, the call queued to the actor, the result collected in
// order), beside the baseline, the same items through a plain pool of 2 goroutines reading
// a channel, in the same run. Both report ns/item; the parent logs their ratio.
//
//	go test ./actorpool -run '^$' -bench Map -count 5 -v   # -v prints the ratio
func BenchmarkMap(b *testing.B) {
	in := items(mapItems)
	var pool, plain float64
	b.Run("pool", func(b *testing.B) {
		jc, err := local.New(local.Options{Resources: fray.Resources{fray.CPU: 2}})
		if err != nil {
			b.Fatal(err)
		}
		defer jc.Close()
		ctx, cancel := context.WithTimeout(fray.WithJobContext(context.Background(), jc), 10*time.Minute)
		defer cancel()
		p, err := actorpool.New(ctx, Worker, WorkerArg{}, Double, actorpool.Options{Size: 2})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			out, err := p.Map(ctx, in)
			if err != nil || len(out) != mapItems || out[mapItems-1] != 2*(mapItems-1) {
				b.Fatalf("Map: %d results, %v", len(out), err)
			}
		}
		pool = perItem(b)
	})
	b.Run("goroutines", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out := plainMap(in, 2, func(it Item) int { return 2 * it.X })
			if len(out) != mapItems || out[mapItems-1] != 2*(mapItems-1) {
				b.Fatal("plain map")
			}
		}
		plain = perItem(b)
	})
	if plain > 0 {
		b.Logf("Map over 2 actors: %.0f ns/item; 2 goroutines: %.0f ns/item; ratio %.1f", pool, plain, pool/plain)
	}
}

// perItem reports and returns b's nanoseconds per item.
func perItem(b *testing.B) float64 {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / mapItems
	b.ReportMetric(ns, "ns/item")
	return ns
}

// plainMap is the baseline: workers goroutines read the items' indexes from a channel and
// write the results in place, in order.
func plainMap(in []Item, workers int, f func(Item) int) []int {
	out := make([]int, len(in))
	idx := make(chan int, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				out[i] = f(in[i])
			}
		}()
	}
	for i := range in {
		idx <- i
	}
	close(idx)
	wg.Wait()
	return out
}
