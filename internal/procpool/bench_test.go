package procpool

import (
	"context"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

// inProcess is the baseline: the same invocation the worker does (look up, decode the
// argument, invoke, encode the result) and the caller's decode, without a process boundary.
func inProcess(b *testing.B, arg []byte) {
	f, ok := backend.LookupFunction("ptest.square")
	if !ok {
		b.Fatal("not registered")
	}
	a, err := f.DecodeArg(backend.Payload{Data: arg})
	if err != nil {
		b.Fatal(err)
	}
	v, err := f.Invoke(context.Background(), nil, a)
	if err != nil {
		b.Fatal(err)
	}
	out, err := fray.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	var r int
	if err := fray.Unmarshal(out, &r); err != nil || r != 49 {
		b.Fatal(r, err)
	}
}

func timeLoop(n int, f func()) time.Duration {
	start := time.Now()
	for range n {
		f()
	}
	return time.Since(start)
}

// BenchmarkRoundTrip: a task round trip on a warm process worker against the in-process
// call it wraps (measured in the same invocation, same b.N). Reports the per-call overhead
// the process adds and the ratio.
func BenchmarkRoundTrip(b *testing.B) {
	p := New(Options{JobID: "bench", CacheDir: b.TempDir()})
	defer p.Close()
	arg, _ := fray.Marshal(7)
	s := Spec{Function: "ptest.square", Arg: arg}
	ctx := context.Background()
	if _, err := p.Run(ctx, s); err != nil { // warm
		b.Fatal(err)
	}
	base := timeLoop(b.N, func() { inProcess(b, arg) })
	b.ResetTimer()
	proc := timeLoop(b.N, func() {
		out, err := p.Run(ctx, s)
		if err != nil {
			b.Fatal(err)
		}
		var r int
		if err := fray.Unmarshal(out, &r); err != nil || r != 49 {
			b.Fatal(r, err)
		}
	})
	b.StopTimer()
	report(b, base, proc)
}

// BenchmarkThroughput: concurrent callers on a pool (one process per concurrent caller),
// against concurrent in-process calls.
func BenchmarkThroughput(b *testing.B) {
	p := New(Options{JobID: "bench", CacheDir: b.TempDir()})
	defer p.Close()
	arg, _ := fray.Marshal(7)
	s := Spec{Function: "ptest.square", Arg: arg}
	ctx := context.Background()
	const callers = 4
	parallel := func(f func()) time.Duration {
		start := time.Now()
		done := make(chan struct{})
		per := (b.N + callers - 1) / callers
		for range callers {
			go func() {
				for range per {
					f()
				}
				done <- struct{}{}
			}()
		}
		for range callers {
			<-done
		}
		return time.Since(start)
	}
	parallel(func() { p.Run(ctx, s) }) // warm: starts the processes
	base := parallel(func() { inProcess(b, arg) })
	b.ResetTimer()
	proc := parallel(func() {
		if _, err := p.Run(ctx, s); err != nil {
			b.Error(err)
		}
	})
	b.StopTimer()
	report(b, base, proc)
	b.ReportMetric(float64(b.N)/proc.Seconds(), "calls/s")
}

// BenchmarkFreshWorker: what MaxCalls 1 pays, a new process per call, against a warm worker
// in the same invocation.
func BenchmarkFreshWorker(b *testing.B) {
	p := New(Options{JobID: "bench", CacheDir: b.TempDir()})
	defer p.Close()
	arg, _ := fray.Marshal(7)
	ctx := context.Background()
	warm := Spec{Function: "ptest.square", Arg: arg}
	if _, err := p.Run(ctx, warm); err != nil {
		b.Fatal(err)
	}
	base := timeLoop(b.N, func() {
		if _, err := p.Run(ctx, warm); err != nil {
			b.Fatal(err)
		}
	})
	b.ResetTimer()
	fresh := timeLoop(b.N, func() {
		if _, err := p.Run(ctx, Spec{Function: "ptest.square", Arg: arg, MaxCalls: 1}); err != nil {
			b.Fatal(err)
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(base.Nanoseconds())/float64(b.N), "warm-ns/op")
	b.ReportMetric(float64(fresh.Nanoseconds())/float64(b.N)/1e6, "fresh-ms/op")
	b.ReportMetric(float64(fresh)/float64(base), "ratio")
}

func report(b *testing.B, base, proc time.Duration) {
	n := float64(b.N)
	b.ReportMetric(float64(base.Nanoseconds())/n, "inproc-ns/op")
	b.ReportMetric(float64((proc-base).Nanoseconds())/n/1e3, "added-µs/op")
	b.ReportMetric(float64(proc)/float64(base), "ratio")
}
