package local_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fray-go/fray"
)

// Tasks and actors used by the tests, registered at package level as fray requires.

var (
	Square = fray.NewTask("localtest.square", func(ctx context.Context, x int) (int, error) {
		return x * x, nil
	})
	Noop = fray.NewTask("localtest.noop", func(ctx context.Context, x int) (int, error) {
		return x, nil
	})
	Fail = fray.NewTask("localtest.fail", func(ctx context.Context, msg string) (int, error) {
		return 0, errors.New(msg)
	})
	FailTyped = fray.NewTask("localtest.failTyped", func(ctx context.Context, code int) (int, error) {
		return 0, &CodeError{Code: code}
	})
	Panic = fray.NewTask("localtest.panic", func(ctx context.Context, msg string) (int, error) {
		panic(msg)
	})
	// Block waits until its gate is opened or its ctx is cancelled.
	Block = fray.NewTask("localtest.block", func(ctx context.Context, gate string) (string, error) {
		g := gates.get(gate)
		g.started()
		select {
		case <-g.open:
			return "opened", nil
		case <-ctx.Done():
			g.cancelled.Store(true)
			return "", ctx.Err()
		}
	})
	// Flaky fails until it has been called n times for key.
	Flaky = fray.NewTask("localtest.flaky", func(ctx context.Context, a FlakyArg) (int, error) {
		n := counters.inc(a.Key)
		info, _ := fray.TaskInfoFrom(ctx)
		if n <= a.Failures {
			return 0, fmt.Errorf("attempt %d fails", info.Attempt)
		}
		return info.Attempt, nil
	})
	Info = fray.NewTask("localtest.info", func(ctx context.Context, _ int) (fray.TaskInfo, error) {
		info, _ := fray.TaskInfoFrom(ctx)
		return info, nil
	})
	// Nested submits n Square tasks from inside a task and sums their results.
	Nested = fray.NewTask("localtest.nested", func(ctx context.Context, n int) (int, error) {
		refs := make([]fray.Ref[int], n)
		for i := range refs {
			r, err := Square.Remote(ctx, i)
			if err != nil {
				return 0, err
			}
			refs[i] = r
		}
		vs, err := fray.GetAll(ctx, refs)
		if err != nil {
			return 0, err
		}
		sum := 0
		for _, v := range vs {
			sum += v
		}
		return sum, nil
	})
	// Unencodable returns a value with an unexported field, which the codec refuses.
	Unencodable = fray.NewTask("localtest.unencodable", func(ctx context.Context, _ int) (Hidden, error) {
		return Hidden{n: 1}, nil
	})
	// CallCounter calls Add on the counter handle it is given.
	CallCounter = fray.NewTask("localtest.callCounter", func(ctx context.Context, h fray.ActorHandle[CounterState]) (int, error) {
		return Add.Call(ctx, h, 10)
	})
	SumRefs = fray.NewTask("localtest.sumRefs", func(ctx context.Context, refs []fray.Ref[int]) (int, error) {
		vs, err := fray.GetAll(ctx, refs)
		if err != nil {
			return 0, err
		}
		s := 0
		for _, v := range vs {
			s += v
		}
		return s, nil
	})
)

// CodeError is an application error type registered with the codec.
type CodeError struct{ Code int }

func (e *CodeError) Error() string { return fmt.Sprintf("code %d", e.Code) }

func init() { fray.RegisterError[*CodeError]("localtest.CodeError") }

// Hidden cannot cross a process boundary.
type Hidden struct{ n int }

// FlakyArg configures Flaky.
type FlakyArg struct {
	Key      string
	Failures int
}

// CounterState is the Counter actor's state.
type CounterState struct {
	N     int
	Calls []int
}

var (
	Counter = fray.NewActor("localtest.Counter", func(ctx context.Context, start int) (*CounterState, error) {
		if start < 0 {
			return nil, fmt.Errorf("negative start %d", start)
		}
		return &CounterState{N: start}, nil
	})
	Add = fray.NewMethod(Counter, "Add", func(s *CounterState, ctx context.Context, d int) (int, error) {
		s.N += d
		return s.N, nil
	})
	Record = fray.NewMethod(Counter, "Record", func(s *CounterState, ctx context.Context, i int) (int, error) {
		s.Calls = append(s.Calls, i)
		return len(s.Calls), nil
	})
	Calls = fray.NewMethod(Counter, "Calls", func(s *CounterState, ctx context.Context, _ int) ([]int, error) {
		return append([]int(nil), s.Calls...), nil
	})
	Boom = fray.NewMethod(Counter, "Boom", func(s *CounterState, ctx context.Context, msg string) (int, error) {
		panic(msg)
	})
	Wait = fray.NewMethod(Counter, "Wait", func(s *CounterState, ctx context.Context, gate string) (string, error) {
		g := gates.get(gate)
		g.started()
		select {
		case <-g.open:
			return "opened", nil
		case <-ctx.Done():
			g.cancelled.Store(true)
			return "", ctx.Err()
		}
	})
	Sub = fray.NewMethod(Counter, "Sub", func(s *CounterState, ctx context.Context, n int) (int, error) {
		// submits a task from inside a method
		return Square.Call(ctx, n)
	})
)

// gate lets a test hold a task or method until it opens the gate.
type gate struct {
	open      chan struct{}
	start     chan struct{}
	once      sync.Once
	cancelled atomic.Bool
}

func (g *gate) started() { g.once.Do(func() { close(g.start) }) }

type gateSet struct {
	mu sync.Mutex
	m  map[string]*gate
}

func (s *gateSet) get(name string) *gate {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*gate{}
	}
	g := s.m[name]
	if g == nil {
		g = &gate{open: make(chan struct{}), start: make(chan struct{})}
		s.m[name] = g
	}
	return g
}

var gates gateSet

type counterSet struct {
	mu sync.Mutex
	m  map[string]int
}

func (s *counterSet) inc(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]int{}
	}
	s.m[key]++
	return s.m[key]
}

var counters counterSet

var (
	runIDs  sync.Map // testing.TB → int64
	runSeq  atomic.Int64
	gnMutex sync.Mutex
)

// gn names a gate (or counter) for this run of test t: stable within the run, fresh on
// every run, so -count > 1 gets new gates.
func gn(t testing.TB, suffix string) string {
	gnMutex.Lock()
	defer gnMutex.Unlock()
	id, ok := runIDs.Load(t)
	if !ok {
		id = runSeq.Add(1)
		runIDs.Store(t, id)
	}
	return fmt.Sprintf("%s%s#%d", t.Name(), suffix, id)
}
