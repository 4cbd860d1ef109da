package local_test

import (
	"context"
	"testing"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
)

// Process-mode benchmarks, each with its in-process baseline in the same invocation (the
// ratios are printed after the run, see bench_test.go):
//
//	go test ./backend/local -run '^$' -bench 'Process' -count 5
//
// "inprocess" runs Noop as a goroutine, "process" in a warm worker process
// (Options.Isolation = IsolateProcess), "fresh" in a new worker process for every call
// (MaxCalls 1). cpu-ns/op counts the driver's CPU only, not the workers'.

var processModes = []struct {
	name      string
	isolation local.Isolation
	opts      fray.TaskOptions
}{
	{"inprocess", local.IsolateNone, fray.TaskOptions{}},
	{"process", local.IsolateProcess, fray.TaskOptions{}},
	{"fresh", local.IsolateNone, fray.TaskOptions{MaxCalls: 1}},
}

func processJob(b *testing.B, iso local.Isolation) context.Context {
	jc, err := local.New(local.Options{Isolation: iso})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = jc.Close() })
	return fray.WithJobContext(context.Background(), jc)
}

func BenchmarkProcessTaskRoundTrip(b *testing.B) {
	for _, m := range processModes {
		b.Run(m.name, func(b *testing.B) {
			ctx := processJob(b, m.isolation)
			if _, err := Noop.Call(ctx, -1, m.opts); err != nil { // start the warm worker
				b.Fatal(err)
			}
			b.ReportAllocs()
			startCPU(b)
			for i := 0; i < b.N; i++ {
				if v, err := Noop.Call(ctx, i, m.opts); err != nil || v != i {
					b.Fatal(v, err)
				}
			}
			report(b)
		})
	}
}

func BenchmarkProcessTaskThroughput(b *testing.B) {
	for _, m := range processModes[:2] {
		b.Run(m.name, func(b *testing.B) {
			ctx := processJob(b, m.isolation)
			if _, err := Noop.Call(ctx, -1, m.opts); err != nil {
				b.Fatal(err)
			}
			const batch = 1000
			refs := make([]fray.Ref[int], 0, batch)
			b.ReportAllocs()
			startCPU(b)
			for done := 0; done < b.N; {
				n := min(batch, b.N-done)
				refs = refs[:0]
				for i := range n {
					r, err := Noop.Remote(ctx, i, m.opts)
					if err != nil {
						b.Fatal(err)
					}
					refs = append(refs, r)
				}
				vs, err := fray.GetAll(ctx, refs)
				if err != nil || len(vs) != n || vs[n-1] != n-1 {
					b.Fatal(err)
				}
				done += n
			}
			report(b)
		})
	}
}

func BenchmarkProcessActorCall(b *testing.B) {
	for _, m := range processModes[:2] {
		b.Run(m.name, func(b *testing.B) {
			ctx := processJob(b, m.isolation)
			h, err := PCounter.Create(ctx, 0, fray.ActorOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := PAdd.Call(ctx, h, 0); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			startCPU(b)
			for i := 0; i < b.N; i++ {
				if _, err := PAdd.Call(ctx, h, 1); err != nil {
					b.Fatal(err)
				}
			}
			report(b)
		})
	}
}
