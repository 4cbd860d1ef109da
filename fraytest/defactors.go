// The suite's actors: Counter (and CounterB), OpaqueHolder, FailingCtor, StatusActor,
// Relay, and the tasks that create or call actors.

package fraytest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/fray-go/fray"
)

// --- actors ------------------------------------------------------------------------------

// CounterState is the state of the Counter actor (and of CounterB, a different class with
// the same state type).
type CounterState struct {
	mu      sync.Mutex
	n       int
	log     []int
	arrived int
	arrCh   chan struct{}
}

func newCounter(_ context.Context, start int) (*CounterState, error) {
	return &CounterState{n: start, arrCh: make(chan struct{})}, nil
}

// Counter is the suite's basic stateful actor.
var Counter = fray.NewActor("fraytest.Counter", newCounter)

// CounterB has Counter's state type but is another class: Counter's methods must refuse it.
var CounterB = fray.NewActor("fraytest.CounterB", newCounter)

// Add adds d and returns the new total.
func (c *CounterState) Add(_ context.Context, d int) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += d
	return c.n, nil
}

// Value returns the total.
func (c *CounterState) Value(_ context.Context, _ struct{}) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n, nil
}

// Append logs x and returns the log's length.
func (c *CounterState) Append(_ context.Context, x int) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, x)
	return len(c.log), nil
}

// Log returns the log.
func (c *CounterState) Log(_ context.Context, _ struct{}) ([]int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int{}, c.log...), nil
}

// panickingMethod panics after changing nothing.
func (c *CounterState) panickingMethod(_ context.Context, msg string) (int, error) {
	panic("fraytest method boom: " + msg)
}

// goexitMethod ends its goroutine with runtime.Goexit after changing nothing.
func (c *CounterState) goexitMethod(_ context.Context, _ int) (int, error) {
	runtime.Goexit()
	return 0, nil
}

// Fail returns an error.
func (c *CounterState) Fail(_ context.Context, msg string) (int, error) {
	return 0, errors.New(msg)
}

// Arrive blocks until n calls (this one included) have arrived, and returns n. It can only
// succeed when the actor runs at least n calls at once.
func (c *CounterState) Arrive(ctx context.Context, n int) (int, error) {
	c.mu.Lock()
	c.arrived++
	if c.arrived >= n {
		close(c.arrCh)
		c.arrCh = make(chan struct{})
	}
	arrived, ch := c.arrived, c.arrCh
	c.mu.Unlock()
	if arrived >= n {
		return arrived, nil
	}
	for {
		select {
		case <-ch:
			c.mu.Lock()
			arrived, ch = c.arrived, c.arrCh
			c.mu.Unlock()
			if arrived >= n {
				return arrived, nil
			}
		case <-ctx.Done():
			return 0, fmt.Errorf("fraytest: barrier of %d saw only %d arrivals: %w", n, arrived, ctx.Err())
		}
	}
}

// Block announces its start and waits for a gate (or for its ctx to end).
func (c *CounterState) Block(ctx context.Context, g Gated) (int, error) {
	return runGated(ctx, g)
}

// PeerAdd calls Add on another Counter through a handle it was given.
type PeerAdd struct {
	Peer fray.ActorHandle[CounterState]
	D    int
}

// AddTo adds to another actor, from inside this one.
func (c *CounterState) AddTo(ctx context.Context, p PeerAdd) (int, error) {
	return counterAdd.Call(ctx, p.Peer, p.D)
}

// OpaqueHolder's constructor takes an Opaque: creating one must fail at the call site.
var OpaqueHolder = fray.NewActor("fraytest.OpaqueHolder", func(_ context.Context, o Opaque) (*CounterState, error) {
	return &CounterState{n: o.Visible + o.hidden, arrCh: make(chan struct{})}, nil
})

// TakeOpaque takes an argument the codec refuses: calling it must fail at the call site.
func (c *CounterState) TakeOpaque(_ context.Context, o Opaque) (int, error) {
	return o.Visible + o.hidden, nil
}

// ListLen returns the length of a list it is sent.
func (c *CounterState) ListLen(_ context.Context, n *Node) (int, error) { return nodeLen(n), nil }

// MakeList returns nodeList(n).
func (c *CounterState) MakeList(_ context.Context, n int) (*Node, error) { return nodeList(n), nil }

var (
	counterListLen    = fray.NewMethod(Counter, "ListLen", (*CounterState).ListLen)
	counterMakeList   = fray.NewMethod(Counter, "MakeList", (*CounterState).MakeList)
	counterTakeOpaque = fray.NewMethod(Counter, "TakeOpaque", (*CounterState).TakeOpaque)
	counterAdd        = fray.NewMethod(Counter, "Add", (*CounterState).Add)
	counterValue      = fray.NewMethod(Counter, "Value", (*CounterState).Value)
	counterAppend     = fray.NewMethod(Counter, "Append", (*CounterState).Append)
	counterLog        = fray.NewMethod(Counter, "Log", (*CounterState).Log)
	counterPanic      = fray.NewMethod(Counter, "Panic", (*CounterState).panickingMethod)
	counterGoexit     = fray.NewMethod(Counter, "Goexit", (*CounterState).goexitMethod)
	counterFail       = fray.NewMethod(Counter, "Fail", (*CounterState).Fail)
	counterArrive     = fray.NewMethod(Counter, "Arrive", (*CounterState).Arrive)
	counterBlock      = fray.NewMethod(Counter, "Block", (*CounterState).Block)
	counterAddTo      = fray.NewMethod(Counter, "AddTo", (*CounterState).AddTo)
	counterBValue     = fray.NewMethod(CounterB, "Value", (*CounterState).Value)
)

// failingCtorState is never built.
type failingCtorState struct{}

// goexitCtor as FailingCtor's argument makes its constructor call runtime.Goexit.
const goexitCtor = "fraytest: call runtime.Goexit"

// FailingCtor's constructor always fails with its argument as the message (or, given
// goexitCtor, by calling runtime.Goexit).
var FailingCtor = fray.NewActor("fraytest.FailingCtor", func(_ context.Context, msg string) (*failingCtorState, error) {
	if msg == goexitCtor {
		runtime.Goexit()
	}
	return nil, errors.New(msg)
})

var failingCtorPing = fray.NewMethod(FailingCtor, "Ping", func(*failingCtorState, context.Context, struct{}) (int, error) {
	return 1, nil
})

// statusState is Marin's StatusActor: a small key/value store (MIGRATION.md, pattern 2).
type statusState struct {
	mu        sync.Mutex
	cacheSize int
	data      map[string]string
}

// StatusActor is Marin's StatusActor, constructed from a cache size as in pattern 2.
var StatusActor = fray.NewActor("fraytest.StatusActor", func(_ context.Context, cacheSize int) (*statusState, error) {
	if cacheSize == 0 {
		cacheSize = 10_000
	}
	return &statusState{cacheSize: cacheSize, data: map[string]string{}}, nil
})

// KV is a key and value.
type KV struct{ Key, Value string }

// SetValue stores a value and reports whether the key was new.
func (s *statusState) SetValue(_ context.Context, kv KV) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, had := s.data[kv.Key]
	s.data[kv.Key] = kv.Value
	return !had, nil
}

// GetValue returns the value of key ("" when missing), like Marin's get_value.
func (s *statusState) GetValue(_ context.Context, key string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data[key], nil
}

// CacheSize returns the constructor argument.
func (s *statusState) CacheSize(_ context.Context, _ struct{}) (int, error) {
	return s.cacheSize, nil
}

var (
	statusSet       = fray.NewMethod(StatusActor, "SetValue", (*statusState).SetValue)
	statusGet       = fray.NewMethod(StatusActor, "GetValue", (*statusState).GetValue)
	statusCacheSize = fray.NewMethod(StatusActor, "CacheSize", (*statusState).CacheSize)
)

// relayState holds a Counter handle it was constructed with.
type relayState struct {
	target fray.ActorHandle[CounterState]
}

// Relay is an actor constructed with another actor's handle.
var Relay = fray.NewActor("fraytest.Relay", func(_ context.Context, h fray.ActorHandle[CounterState]) (*relayState, error) {
	return &relayState{target: h}, nil
})

var relayForward = fray.NewMethod(Relay, "Forward", func(r *relayState, ctx context.Context, d int) (int, error) {
	return counterAdd.Call(ctx, r.target, d)
})

// HandleArg carries a Counter handle into a task.
type HandleArg struct {
	H fray.ActorHandle[CounterState]
	D int
}

var addViaHandle = fray.NewTask("fraytest.addViaHandle", func(ctx context.Context, a HandleArg) (int, error) {
	return counterAdd.Call(ctx, a.H, a.D)
})

// actorInTask creates a Counter from inside a task, calls it and kills it.
var actorInTask = fray.NewTask("fraytest.actorInTask", func(ctx context.Context, start int) (int, error) {
	h, err := Counter.Create(ctx, start)
	if err != nil {
		return 0, err
	}
	defer h.Kill(ctx)
	return counterAdd.Call(ctx, h, 1)
})

// StepConfig is an executor-style step configuration (MIGRATION.md, pattern 7).
type StepConfig struct {
	Status fray.ActorHandle[statusState]
	Step   string
	EnvKey string
}

// StepReport is what an executor-style step returns.
type StepReport struct {
	Name   string
	Env    string
	Status string
}

// runStep is an executor-style step: it records itself in the StatusActor and reports its
// task name and an environment variable.
var runStep = fray.NewTask("fraytest.runStep", func(ctx context.Context, c StepConfig) (StepReport, error) {
	info, _ := fray.TaskInfoFrom(ctx)
	if _, err := statusSet.Call(ctx, c.Status, KV{Key: c.Step, Value: "RUNNING"}); err != nil {
		return StepReport{}, err
	}
	st, err := statusGet.Call(ctx, c.Status, c.Step)
	if err != nil {
		return StepReport{}, err
	}
	rep := StepReport{Name: info.Name, Status: st}
	if c.EnvKey != "" {
		rep.Env = os.Getenv(c.EnvKey)
	}
	return rep, nil
})

// FilePair is MIGRATION.md pattern 1's (input_path, output_path).
type FilePair struct{ Input, Output string }

// processFile is pattern 1's process_file: a plain function, configured at the call site.
var processFile = fray.NewTask("fraytest.processFile", func(_ context.Context, p FilePair) (string, error) {
	return p.Input + " -> " + p.Output, nil
})
