package local_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/internal/osproc"
)

// Benchmarks run their baselines in the same invocation; TestMain prints the ratio of each
// benchmark to its baseline (medians over the runs of the invocation) after the run.
//
//	go test ./backend/local -run '^$' -bench . -count 5

const chunk = 10000

var benchRound atomic.Int64 // tasks submitted before getting them all, in throughput benchmarks

type benchRun struct {
	n     int
	ns    float64
	cpuNs float64
}

// cpuTime is the CPU time the process has used, user and system: under a loaded machine it
// says more about the cost of an operation than wall time.
func cpuTime() time.Duration {
	u, err := osproc.Rusage()
	if err != nil {
		return 0
	}
	return u.CPU
}

// startCPU marks the start of the timed part of a benchmark for report.
func startCPU(b *testing.B) {
	cpuStart.Store(b, cpuTime())
	b.ResetTimer()
}

var cpuStart sync.Map // *testing.B → time.Duration

var benchResults = struct {
	sync.Mutex
	m map[string][]benchRun
}{m: map[string][]benchRun{}}

// report records the run and adds ops/s and CPU-time metrics.
func report(b *testing.B) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(1e9/ns, "ops/s")
	var cpuNs float64
	if v, ok := cpuStart.LoadAndDelete(b); ok {
		cpuNs = float64(cpuTime()-v.(time.Duration)) / float64(b.N)
		b.ReportMetric(cpuNs, "cpu-ns/op")
	}
	benchResults.Lock()
	benchResults.m[b.Name()] = append(benchResults.m[b.Name()], benchRun{b.N, ns, cpuNs})
	benchResults.Unlock()
}

// median is the median ns/op (cpu false) or CPU ns/op (cpu true) over the runs with at least
// a quarter of the largest b.N (the calibration runs with tiny b.N are left out).
func median(runs []benchRun, cpu bool) float64 {
	maxN := 0
	for _, r := range runs {
		maxN = max(maxN, r.n)
	}
	var ns []float64
	for _, r := range runs {
		if r.n >= maxN/4 {
			if cpu {
				ns = append(ns, r.cpuNs)
			} else {
				ns = append(ns, r.ns)
			}
		}
	}
	sort.Float64s(ns)
	return ns[len(ns)/2]
}

var ratioPairs = [][2]string{
	{"BenchmarkTaskRoundTrip/codec", "BenchmarkTaskRoundTripBaseline/codec"},
	{"BenchmarkTaskRoundTrip/direct", "BenchmarkTaskRoundTripBaseline/plain"},
	{"BenchmarkTaskThroughput/codec", "BenchmarkTaskThroughputBaseline/codec"},
	{"BenchmarkTaskThroughput/direct", "BenchmarkTaskThroughputBaseline/plain"},
	{"BenchmarkActorCallRoundTrip/codec", "BenchmarkActorCallRoundTripBaseline/codec"},
	{"BenchmarkActorCallRoundTrip/direct", "BenchmarkActorCallRoundTripBaseline/plain"},
	{"BenchmarkActorCallThroughput/codec", "BenchmarkActorCallThroughputBaseline/codec"},
	{"BenchmarkActorCallThroughput/direct", "BenchmarkActorCallThroughputBaseline/plain"},
	{"BenchmarkPutGet/codec", "BenchmarkPutGetBaseline/codec"},
	{"BenchmarkPutGet/direct", "BenchmarkPutGetBaseline/plain"},
	{"BenchmarkSchedulingQueued100k", "BenchmarkSchedulingQueued1k"},
	{"BenchmarkProcessTaskRoundTrip/process", "BenchmarkProcessTaskRoundTrip/inprocess"},
	{"BenchmarkProcessTaskRoundTrip/fresh", "BenchmarkProcessTaskRoundTrip/inprocess"},
	{"BenchmarkProcessTaskRoundTrip/fresh", "BenchmarkProcessTaskRoundTrip/process"},
	{"BenchmarkProcessTaskThroughput/process", "BenchmarkProcessTaskThroughput/inprocess"},
	{"BenchmarkProcessActorCall/process", "BenchmarkProcessActorCall/inprocess"},
}

func printRatios() {
	benchResults.Lock()
	defer benchResults.Unlock()
	if len(benchResults.m) == 0 {
		return
	}
	names := make([]string, 0, len(benchResults.m))
	for n := range benchResults.m {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(os.Stdout, "medians:")
	for _, n := range names {
		ns := median(benchResults.m[n], false)
		fmt.Fprintf(os.Stdout, "  %-45s %10.1f ns/op %12.0f ops/s %10.1f cpu-ns/op\n", n, ns, 1e9/ns, median(benchResults.m[n], true))
	}
	fmt.Fprintln(os.Stdout, "ratios (benchmark / baseline, medians of wall time and of CPU time):")
	for _, p := range ratioPairs {
		a, okA := benchResults.m[p[0]]
		b, okB := benchResults.m[p[1]]
		if okA && okB {
			fmt.Fprintf(os.Stdout, "  %-40s / %-45s = %6.2fx wall %6.2fx cpu\n", p[0], p[1], median(a, false)/median(b, false), median(a, true)/median(b, true))
		}
	}
}

var (
	benchModes = []struct {
		name   string
		direct bool
	}{{"codec", false}, {"direct", true}}
	baselineModes = []struct {
		name  string
		codec bool
	}{{"codec", true}, {"plain", false}}
)

func benchJob(b *testing.B, direct bool) context.Context {
	jc, err := local.New(local.Options{DirectValues: direct})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = jc.Close() })
	return fray.WithJobContext(context.Background(), jc)
}

// work is what the baselines do per task: with codec, what the backend does (encode the
// argument, decode it, encode the result, decode it); without, nothing.
func work(codec bool, x int) int {
	if !codec {
		return x
	}
	data, err := fray.Marshal(x)
	if err != nil {
		panic(err)
	}
	var a int
	if err := fray.Unmarshal(data, &a); err != nil {
		panic(err)
	}
	res, err := fray.Marshal(a)
	if err != nil {
		panic(err)
	}
	var out int
	if err := fray.Unmarshal(res, &out); err != nil {
		panic(err)
	}
	return out
}

func BenchmarkTaskRoundTrip(b *testing.B) {
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			ctx := benchJob(b, m.direct)
			b.ReportAllocs()
			startCPU(b)
			for i := 0; i < b.N; i++ {
				r, err := Noop.Remote(ctx, i)
				if err != nil {
					b.Fatal(err)
				}
				if v, err := r.Get(ctx); err != nil || v != i {
					b.Fatal(v, err)
				}
			}
			report(b)
		})
	}
}

func BenchmarkTaskRoundTripBaseline(b *testing.B) {
	for _, m := range baselineModes {
		b.Run(m.name, func(b *testing.B) {
			b.ReportAllocs()
			startCPU(b)
			for i := 0; i < b.N; i++ {
				ch := make(chan int, 1)
				go func(x int) { ch <- work(m.codec, x) }(i)
				if v := <-ch; v != i {
					b.Fatal(v)
				}
			}
			report(b)
		})
	}
}

func BenchmarkTaskThroughput(b *testing.B) {
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			ctx := benchJob(b, m.direct)
			refs := make([]fray.Ref[int], 0, chunk)
			b.ReportAllocs()
			startCPU(b)
			for done := 0; done < b.N; {
				n := min(chunk, b.N-done)
				refs = refs[:0]
				for i := range n {
					r, err := Noop.Remote(ctx, i)
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

func BenchmarkTaskThroughputBaseline(b *testing.B) {
	for _, m := range baselineModes {
		b.Run(m.name, func(b *testing.B) {
			chans := make([]chan int, 0, chunk)
			b.ReportAllocs()
			startCPU(b)
			for done := 0; done < b.N; {
				n := min(chunk, b.N-done)
				chans = chans[:0]
				for i := range n {
					ch := make(chan int, 1)
					go func(x int) { ch <- work(m.codec, x) }(i)
					chans = append(chans, ch)
				}
				for i, ch := range chans {
					if v := <-ch; v != i {
						b.Fatal(v)
					}
				}
				done += n
			}
			report(b)
		})
	}
}

func BenchmarkActorCallRoundTrip(b *testing.B) {
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			ctx := benchJob(b, m.direct)
			h, err := Counter.Create(ctx, 0)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			startCPU(b)
			for i := 0; i < b.N; i++ {
				if v, err := Add.Call(ctx, h, 1); err != nil || v != i+1 {
					b.Fatal(v, err)
				}
			}
			report(b)
		})
	}
}

type benchReq struct {
	x     int
	reply chan int
}

// server is the baseline actor: a goroutine owning a counter, fed through a channel.
func server(codec bool, reqs <-chan benchReq, wg *sync.WaitGroup) {
	defer wg.Done()
	n := 0
	for r := range reqs {
		n += work(codec, r.x)
		r.reply <- n
	}
}

func BenchmarkActorCallRoundTripBaseline(b *testing.B) {
	for _, m := range baselineModes {
		b.Run(m.name, func(b *testing.B) {
			reqs := make(chan benchReq, 1024)
			var wg sync.WaitGroup
			wg.Add(1)
			go server(m.codec, reqs, &wg)
			b.ReportAllocs()
			startCPU(b)
			for i := 0; i < b.N; i++ {
				reply := make(chan int, 1)
				reqs <- benchReq{1, reply}
				if v := <-reply; v != i+1 {
					b.Fatal(v)
				}
			}
			report(b)
			close(reqs)
			wg.Wait()
		})
	}
}

func BenchmarkActorCallThroughput(b *testing.B) {
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			ctx := benchJob(b, m.direct)
			h, err := Counter.Create(ctx, 0)
			if err != nil {
				b.Fatal(err)
			}
			refs := make([]fray.Ref[int], 0, chunk)
			b.ReportAllocs()
			startCPU(b)
			for done := 0; done < b.N; {
				n := min(chunk, b.N-done)
				refs = refs[:0]
				for range n {
					r, err := Add.Remote(ctx, h, 1)
					if err != nil {
						b.Fatal(err)
					}
					refs = append(refs, r)
				}
				vs, err := fray.GetAll(ctx, refs)
				if err != nil || vs[n-1] != done+n {
					b.Fatal(err)
				}
				done += n
			}
			report(b)
		})
	}
}

func BenchmarkActorCallThroughputBaseline(b *testing.B) {
	for _, m := range baselineModes {
		b.Run(m.name, func(b *testing.B) {
			reqs := make(chan benchReq, 1024)
			var wg sync.WaitGroup
			wg.Add(1)
			go server(m.codec, reqs, &wg)
			replies := make([]chan int, 0, chunk)
			b.ReportAllocs()
			startCPU(b)
			for done := 0; done < b.N; {
				n := min(chunk, b.N-done)
				replies = replies[:0]
				for range n {
					reply := make(chan int, 1)
					reqs <- benchReq{1, reply}
					replies = append(replies, reply)
				}
				for i, r := range replies {
					if v := <-r; v != done+i+1 {
						b.Fatal(v)
					}
				}
				done += n
			}
			report(b)
			close(reqs)
			wg.Wait()
		})
	}
}

func BenchmarkPutGet(b *testing.B) {
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			ctx := benchJob(b, m.direct)
			b.ReportAllocs()
			startCPU(b)
			for i := 0; i < b.N; i++ {
				r, err := fray.Put(ctx, i)
				if err != nil {
					b.Fatal(err)
				}
				if v, err := r.Get(ctx); err != nil || v != i {
					b.Fatal(v, err)
				}
			}
			report(b)
		})
	}
}

// BenchmarkPutGetBaseline stores values in a mutex-guarded map, encoded in codec mode.
func BenchmarkPutGetBaseline(b *testing.B) {
	for _, m := range baselineModes {
		b.Run(m.name, func(b *testing.B) {
			var mu sync.Mutex
			store := map[int]any{}
			b.ReportAllocs()
			startCPU(b)
			for i := 0; i < b.N; i++ {
				var v any = i
				if m.codec {
					data, err := fray.Marshal(i)
					if err != nil {
						b.Fatal(err)
					}
					v = data
				}
				mu.Lock()
				store[i] = v
				mu.Unlock()
				mu.Lock()
				got := store[i]
				delete(store, i)
				mu.Unlock()
				x, _ := got.(int)
				if m.codec {
					if err := fray.Unmarshal(got.([]byte), &x); err != nil {
						b.Fatal(err)
					}
				}
				if x != i {
					b.Fatal(x)
				}
			}
			report(b)
		})
	}
}

// benchQueued measures the cost per task of tasks that wait in a queue of up to depth tasks:
// a blocker holds every CPU while depth tasks are submitted, then they all run.
func benchQueued(b *testing.B, depth int) {
	ctx := benchJob(b, false)
	all := fray.TaskOptions{Resources: fray.Resources{fray.CPU: float64(runtime.NumCPU())}}
	refs := make([]fray.Ref[int], 0, depth)
	b.ReportAllocs()
	startCPU(b)
	for done := 0; done < b.N; {
		n := min(depth, b.N-done)
		name := fmt.Sprintf("%s/%d", b.Name(), benchRound.Add(1))
		g := gates.get(name)
		blocker, err := Block.Remote(ctx, name, all)
		if err != nil {
			b.Fatal(err)
		}
		<-g.start
		refs = refs[:0]
		for i := range n {
			r, err := Noop.Remote(ctx, i)
			if err != nil {
				b.Fatal(err)
			}
			refs = append(refs, r)
		}
		close(g.open)
		if _, err := fray.GetAll(ctx, refs); err != nil {
			b.Fatal(err)
		}
		if _, err := blocker.Get(ctx); err != nil {
			b.Fatal(err)
		}
		done += n
	}
	report(b)
}

func BenchmarkSchedulingQueued1k(b *testing.B)   { benchQueued(b, 1000) }
func BenchmarkSchedulingQueued100k(b *testing.B) { benchQueued(b, 100000) }
