package fraytest

import (
	"context"
	"errors"
	"io"

	"github.com/fray-go/fray"
)

// --- streaming tasks and methods (registered at package level, like everything remote) ---

// StreamArg configures streamCount: N values 0..N-1, then FailWith (if set) as a
// *CodedError; with Rec set, the Recorder counters Key+".attempt" (before each yield) and
// Key+".yielded" (after each yield returned) and Key+".stopped" (once a yield failed).
type StreamArg struct {
	N        int // -1: until a yield fails
	FailWith string
	Rec      Rec
	Key      string
}

var streamCount = fray.NewStreamTask("fraytest.streamCount", func(ctx context.Context, a StreamArg, yield func(int) error) (err error) {
	bump := func(suffix string) error {
		if a.Rec.IsZero() {
			return nil
		}
		_, err := recIncr.Call(ctx, a.Rec, a.Key+suffix)
		return err
	}
	defer func() {
		if err != nil && a.FailWith == "" && !a.Rec.IsZero() {
			// Reported through a ctx that outlives the stream's own, cancelled by now.
			_, _ = recIncr.Call(context.WithoutCancel(ctx), a.Rec, a.Key+".stopped")
		}
	}()
	for i := 0; a.N < 0 || i < a.N; i++ {
		if err := bump(".attempt"); err != nil {
			return err
		}
		if err := yield(i); err != nil {
			return err
		}
		if err := bump(".yielded"); err != nil {
			return err
		}
	}
	if a.FailWith != "" {
		return &CodedError{Code: 7, Detail: a.FailWith}
	}
	return nil
})

// CountUp yields the counter's next n values, adding one to the state per value.
func (c *CounterState) CountUp(_ context.Context, n int, yield func(int) error) error {
	for range n {
		c.mu.Lock()
		c.n++
		v := c.n
		c.mu.Unlock()
		if err := yield(v); err != nil {
			return err
		}
	}
	return nil
}

var counterCountUp = fray.NewStreamMethod(Counter, "CountUp", (*CounterState).CountUp)

// ConsumeArg configures streamConsumer: read streamCount(Stream) to its end, or only the
// first Take values (then break out of the loop) when Take > 0.
type ConsumeArg struct {
	Stream StreamArg
	Take   int
}

// streamConsumer is a task that consumes a stream (as a pipeline step reading a model's
// output would) and returns the values it read.
var streamConsumer = fray.NewTask("fraytest.streamConsumer", func(ctx context.Context, a ConsumeArg) ([]int, error) {
	st, err := streamCount.Remote(ctx, a.Stream, fray.StreamOptions{Backpressure: 2})
	if err != nil {
		return nil, err
	}
	var out []int
	for v, err := range st.All(ctx) {
		if err != nil {
			return out, err
		}
		out = append(out, v)
		if len(out) == a.Take {
			break
		}
	}
	return out, nil
})

// --- the Streams group ---------------------------------------------------------------------

func streamCases() []testCase {
	return []testCase{
		{"Ordered", streamCase(testStreamOrdered)},
		{"ErrorAfterValues", streamCase(testStreamErrorAfterValues)},
		{"Backpressure", streamCase(testStreamBackpressure)},
		{"Cancel", streamCase(testStreamCancel)},
		{"ActorMethod", streamCase(testStreamActorMethod)},
		{"ConsumedInTask", streamCase(testStreamConsumedInTask)},
	}
}

// streamCase runs a stream subtest on a backend with Capabilities.Streams; on one without,
// it checks that streams are refused with fray.ErrUnsupported instead.
func streamCase(run func(*env)) func(*env) {
	return func(s *env) {
		if s.b.Caps.Streams {
			run(s)
			return
		}
		_, err := streamCount.Remote(s.Ctx, StreamArg{N: 1})
		s.wantErr(err, fray.ErrUnsupported, "a stream task on a backend without Capabilities.Streams")
		h, err := Counter.Create(s.Ctx, 0)
		s.must(err, "create Counter")
		_, err = counterCountUp.Remote(s.Ctx, h, 1)
		s.wantErr(err, fray.ErrUnsupported, "a stream method on a backend without Capabilities.Streams")
	}
}

// drain reads a stream to its end and returns the values and the final error (nil at io.EOF).
func drain[R any](s *env, st *fray.Stream[R]) ([]R, error) {
	s.Helper()
	var out []R
	for {
		v, err := st.Next(s.Ctx)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
}

func wantInts(s *env, what string, got []int, from, n int) {
	s.Helper()
	if len(got) != n {
		s.Fatalf("%s: got %d values %v, want %d", what, len(got), got, n)
	}
	for i, v := range got {
		if v != from+i {
			s.Fatalf("%s: value %d is %d, want %d (values %v)", what, i, v, from+i, got)
		}
	}
}

// testStreamOrdered: values arrive in order, then io.EOF (again on every later Next); All
// iterates the same way.
func testStreamOrdered(s *env) {
	st, err := streamCount.Remote(s.Ctx, StreamArg{N: 50})
	s.must(err, "streamCount.Remote")
	got, err := drain(s, st)
	s.must(err, "stream")
	wantInts(s, "Next", got, 0, 50)
	if _, err := st.Next(s.Ctx); err != io.EOF {
		s.Fatalf("Next after the end = %v, want io.EOF", err)
	}

	st, err = streamCount.Remote(s.Ctx, StreamArg{N: 5}, fray.StreamOptions{Backpressure: 1})
	s.must(err, "streamCount.Remote")
	var all []int
	for v, err := range st.All(s.Ctx) {
		s.must(err, "All")
		all = append(all, v)
	}
	wantInts(s, "All", all, 0, 5)

	st, err = streamCount.Remote(s.Ctx, StreamArg{N: 0})
	s.must(err, "streamCount.Remote (empty)")
	if _, err := st.Next(s.Ctx); err != io.EOF {
		s.Fatalf("Next of an empty stream = %v, want io.EOF", err)
	}
	_, err = streamCount.Remote(s.Ctx, StreamArg{}, fray.StreamOptions{Backpressure: -2})
	s.wantErr(err, fray.ErrInvalidArgument, "Backpressure -2")
	_, err = streamCount.Remote(s.Ctx, StreamArg{}, fray.StreamOptions{Task: fray.TaskOptions{MaxRetries: fray.Retries(2)}})
	s.wantErr(err, fray.ErrInvalidArgument, "a retried stream")
}

// testStreamErrorAfterValues: a failing producer's values come first, then its error (a
// *TaskError whose cause is the registered *CodedError), on every later Next too.
func testStreamErrorAfterValues(s *env) {
	st, err := streamCount.Remote(s.Ctx, StreamArg{N: 3, FailWith: "after three"})
	s.must(err, "streamCount.Remote")
	got, err := drain(s, st)
	wantInts(s, "values before the error", got, 0, 3)
	s.wantErr(err, fray.ErrTaskFailed, "the stream's end")
	var ce *CodedError
	if !errors.As(err, &ce) || ce.Detail != "after three" {
		s.Fatalf("the stream's error %v (%T) does not carry the producer's *CodedError", err, err)
	}
	_, again := st.Next(s.Ctx)
	s.wantErr(again, fray.ErrTaskFailed, "Next after the error")

	var seen []int
	var last error
	for v, err := range st.All(s.Ctx) {
		if err != nil {
			last = err
			break
		}
		seen = append(seen, v)
	}
	if len(seen) != 0 {
		s.Fatalf("All after the end yielded values %v", seen)
	}
	s.wantErr(last, fray.ErrTaskFailed, "All after the error")
}

// testStreamBackpressure: with Backpressure 2 and nothing consumed, the producer's third
// yield does not return: when the producer has started its third yield, exactly two have
// returned (a producer-side count, no timing). Each value consumed lets one more yield
// return.
func testStreamBackpressure(s *env) {
	rec := s.recorder()
	const bound = 2
	st, err := streamCount.Remote(s.Ctx, StreamArg{N: 6, Rec: rec, Key: "bp"}, fray.StreamOptions{Backpressure: bound})
	s.must(err, "streamCount.Remote")
	s.await(rec, "bp.attempt", bound+1)
	if n := s.count(rec, "bp.yielded"); n != bound {
		s.Fatalf("with nothing consumed and backpressure %d, %d yields returned, want %d", bound, n, bound)
	}
	for k := 1; k <= 3; k++ {
		v, err := st.Next(s.Ctx)
		s.must(err, "Next")
		if v != k-1 {
			s.Fatalf("value %d = %d", k-1, v)
		}
		s.await(rec, "bp.attempt", bound+1+k)
		if n := s.count(rec, "bp.yielded"); n != bound+k {
			s.Fatalf("after %d consumed, %d yields returned, want %d", k, n, bound+k)
		}
	}
	got, err := drain(s, st)
	s.must(err, "the rest of the stream")
	wantInts(s, "the rest", got, 3, 3)
	if n := s.count(rec, "bp.yielded"); n != 6 {
		s.Fatalf("at the end, %d yields returned, want 6", n)
	}
}

// testStreamCancel: Cancel stops an endless producer (its yield fails) and Next then
// reports a cancellation; breaking out of All and the Remote ctx ending do the same.
func testStreamCancel(s *env) {
	rec := s.recorder()
	st, err := streamCount.Remote(s.Ctx, StreamArg{N: -1, Rec: rec, Key: "c1"}, fray.StreamOptions{Backpressure: 1})
	s.must(err, "streamCount.Remote")
	for i := range 2 {
		v, err := st.Next(s.Ctx)
		s.must(err, "Next")
		if v != i {
			s.Fatalf("value %d = %d", i, v)
		}
	}
	s.must(st.Cancel(), "Cancel")
	_, err = st.Next(s.Ctx)
	s.wantErr(err, fray.ErrCancelled, "Next after Cancel")
	s.await(rec, "c1.stopped", 1)
	s.must(st.Cancel(), "Cancel again")

	st, err = streamCount.Remote(s.Ctx, StreamArg{N: -1, Rec: rec, Key: "c2"}, fray.StreamOptions{Backpressure: 1})
	s.must(err, "streamCount.Remote")
	n := 0
	for v, err := range st.All(s.Ctx) {
		s.must(err, "All")
		if v != n {
			s.Fatalf("value %d = %d", n, v)
		}
		if n++; n == 3 {
			break
		}
	}
	s.await(rec, "c2.stopped", 1)

	ctx, cancel := context.WithCancel(s.Ctx)
	st, err = streamCount.Remote(ctx, StreamArg{N: -1, Rec: rec, Key: "c3"}, fray.StreamOptions{Backpressure: 1})
	s.must(err, "streamCount.Remote")
	if _, err := st.Next(s.Ctx); err != nil {
		s.Fatalf("Next: %v", err)
	}
	cancel()
	s.await(rec, "c3.stopped", 1)
	for {
		if _, err := st.Next(s.Ctx); err != nil {
			s.wantErr(err, fray.ErrCancelled, "Next after the Remote ctx ended")
			break
		}
	}
}

// testStreamActorMethod: an actor method streams values computed from (and changing) the
// actor's state, in order; later calls see the state the stream left.
func testStreamActorMethod(s *env) {
	h, err := Counter.Create(s.Ctx, 10)
	s.must(err, "create Counter")
	st, err := counterCountUp.Remote(s.Ctx, h, 4, fray.StreamOptions{Backpressure: 2})
	s.must(err, "CountUp.Remote")
	got, err := drain(s, st)
	s.must(err, "stream")
	wantInts(s, "CountUp", got, 11, 4)
	v, err := counterValue.Call(s.Ctx, h, struct{}{})
	s.must(err, "Value")
	if v != 14 {
		s.Fatalf("Value after the stream = %d, want 14", v)
	}
	_, err = counterCountUp.Remote(s.Ctx, h, 1, fray.StreamOptions{Task: fray.TaskOptions{Name: "x"}})
	s.wantErr(err, fray.ErrInvalidArgument, "TaskOptions on a method stream")
	s.must(h.Kill(s.Ctx), "Kill")
	st, err = counterCountUp.Remote(s.Ctx, h, 1)
	if err == nil {
		_, err = st.Next(s.Ctx)
	}
	s.wantErr(err, fray.ErrActorDied, "a stream of a killed actor")
}

// testStreamConsumedInTask: a task consumes a stream (wherever the backend runs it: in a
// worker process, on a Ray worker); breaking out of its loop stops the producer.
func testStreamConsumedInTask(s *env) {
	got := sub(streamConsumer.Remote(s.Ctx, ConsumeArg{Stream: StreamArg{N: 20}})).get(s)
	wantInts(s, "values read in the task", got, 0, 20)
	rec := s.recorder()
	got = sub(streamConsumer.Remote(s.Ctx, ConsumeArg{Stream: StreamArg{N: -1, Rec: rec, Key: "nested"}, Take: 3})).get(s)
	wantInts(s, "values read before the break", got, 0, 3)
	s.await(rec, "nested.stopped", 1)
}
