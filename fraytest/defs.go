package fraytest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

// Everything the suite runs remotely is registered here, at package level, under names that
// start with "fraytest.", so that a worker process built from the same test binary finds the
// same registry. Nothing in this file may be created inside a test function.

// --- Recorder: the cross-process counter, flag and barrier ----------------------------------

// recorderState is the state of the Recorder actor: named counters that tests and tasks bump
// and wait on. It is how the suite synchronizes and observes remote code without sleeps and
// without channels, which cannot cross process boundaries.
type recorderState struct {
	mu      sync.Mutex
	counts  map[string]int
	changed chan struct{} // closed and replaced on every change
}

// Recorder is a counter/barrier actor. Create it with recorderOptions (it needs concurrency so
// that a blocked Await does not hold up Incr).
var Recorder = fray.NewActor("fraytest.Recorder", func(ctx context.Context, _ struct{}) (*recorderState, error) {
	return &recorderState{counts: map[string]int{}, changed: make(chan struct{})}, nil
})

// recorderConcurrency is the Recorder's MaxConcurrency: enough for every blocked waiter the
// suite creates at once plus the calls that release them.
const recorderConcurrency = 64

// Incr adds one to a counter and returns the new value.
func (r *recorderState) Incr(_ context.Context, key string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[key]++
	close(r.changed)
	r.changed = make(chan struct{})
	return r.counts[key], nil
}

// Count returns a counter's value.
func (r *recorderState) Count(_ context.Context, key string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[key], nil
}

// AwaitArg names a counter and the value to wait for.
type AwaitArg struct {
	Key string
	N   int
}

// Await blocks until the counter reaches N (or the call's ctx ends) and returns its value.
func (r *recorderState) Await(ctx context.Context, a AwaitArg) (int, error) {
	for {
		r.mu.Lock()
		n, ch := r.counts[a.Key], r.changed
		r.mu.Unlock()
		if n >= a.N {
			return n, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return n, fmt.Errorf("fraytest: waiting for %q to reach %d (at %d): %w", a.Key, a.N, n, ctx.Err())
		}
	}
}

var (
	recIncr  = fray.NewMethod(Recorder, "Incr", (*recorderState).Incr)
	recCount = fray.NewMethod(Recorder, "Count", (*recorderState).Count)
	recAwait = fray.NewMethod(Recorder, "Await", (*recorderState).Await)
)

// Rec is a Recorder handle; tasks and actors receive it inside their arguments.
type Rec = fray.ActorHandle[recorderState]

// --- plain tasks ------------------------------------------------------------------------

var square = fray.NewTask("fraytest.square", func(_ context.Context, x int) (int, error) {
	return x * x, nil
})

var addOne = fray.NewTask("fraytest.addOne", func(_ context.Context, x int) (int, error) {
	return x + 1, nil
})

// Record is a struct argument with the shapes a real pipeline passes around.
type Record struct {
	Name    string
	Values  []int
	Tags    map[string]string
	Nested  *Inner
	When    time.Time
	Bytes   []byte
	Ratio   float64
	Enabled bool
}

// Inner is nested inside Record.
type Inner struct {
	Path  string
	Depth int
}

// Summary is echoRecord's result.
type Summary struct {
	Name   string
	Sum    int
	NTags  int
	Path   string
	Depth  int
	When   time.Time
	NBytes int
	Ratio  float64
	Echo   Record
}

var echoRecord = fray.NewTask("fraytest.echoRecord", func(_ context.Context, r Record) (Summary, error) {
	s := Summary{Name: r.Name, NTags: len(r.Tags), When: r.When, NBytes: len(r.Bytes), Ratio: r.Ratio, Echo: r}
	for _, v := range r.Values {
		s.Sum += v
	}
	if r.Nested != nil {
		s.Path, s.Depth = r.Nested.Path, r.Nested.Depth
	}
	return s, nil
})

// sumSquares launches n nested square tasks using nothing but the ctx it was given.
var sumSquares = fray.NewTask("fraytest.sumSquares", func(ctx context.Context, n int) (int, error) {
	refs := make([]fray.Ref[int], n)
	for i := range refs {
		r, err := square.Remote(ctx, i)
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

// RefBag carries refs inside a struct: they travel as refs, not values.
type RefBag struct {
	Label string
	Refs  []fray.Ref[int]
	One   fray.Ref[string]
}

// BagResult reports what sumBag found.
type BagResult struct {
	Label string
	Sum   int
	One   string
	IDs   []backend.ObjectID
}

var sumBag = fray.NewTask("fraytest.sumBag", func(ctx context.Context, b RefBag) (BagResult, error) {
	out := BagResult{Label: b.Label}
	for _, r := range b.Refs {
		out.IDs = append(out.IDs, r.ID())
	}
	vs, err := fray.GetAll(ctx, b.Refs)
	if err != nil {
		return out, err
	}
	for _, v := range vs {
		out.Sum += v
	}
	if !b.One.IsZero() {
		s, err := b.One.Get(ctx)
		if err != nil {
			return out, err
		}
		out.One = s
	}
	return out, nil
})

// makeSquareRef returns a Ref (to a nested square task) as its result.
var makeSquareRef = fray.NewTask("fraytest.makeSquareRef", func(ctx context.Context, x int) (fray.Ref[int], error) {
	return square.Remote(ctx, x)
})

// InfoView is what a task sees of itself.
type InfoView struct {
	OK        bool
	JobID     string
	TaskID    string
	Name      string
	Attempt   int
	PID       int
	GetPID    int
	HasJobCtx bool
	CtxJobID  string
}

func infoOf(ctx context.Context) InfoView {
	info, ok := fray.TaskInfoFrom(ctx)
	v := InfoView{OK: ok, JobID: info.JobID, TaskID: info.TaskID, Name: info.Name, Attempt: info.Attempt,
		PID: info.PID, GetPID: os.Getpid()}
	if jc, err := fray.JobContextFrom(ctx); err == nil {
		v.HasJobCtx, v.CtxJobID = true, jc.JobID()
	}
	return v
}

var taskInfo = fray.NewTask("fraytest.taskInfo", func(ctx context.Context, _ struct{}) (InfoView, error) {
	return infoOf(ctx), nil
})

// nestedInfo returns the TaskInfo of a nested task it launches.
var nestedInfo = fray.NewTask("fraytest.nestedInfo", func(ctx context.Context, _ struct{}) (InfoView, error) {
	return taskInfo.Call(ctx, struct{}{})
})

var getenv = fray.NewTask("fraytest.getenv", func(_ context.Context, key string) (string, error) {
	return os.Getenv(key), nil
})

// nestedGetenv reads key in a nested task launched without a RuntimeEnv of its own.
var nestedGetenv = fray.NewTask("fraytest.nestedGetenv", func(ctx context.Context, key string) (string, error) {
	return getenv.Call(ctx, key)
})

var getpid = fray.NewTask("fraytest.getpid", func(_ context.Context, _ int) (int, error) {
	return os.Getpid(), nil
})

var byteLen = fray.NewTask("fraytest.byteLen", func(_ context.Context, b []byte) (int, error) {
	return len(b), nil
})

// checksum is a cheap order-sensitive checksum of b.
func checksum(b []byte) uint64 {
	var h uint64 = 1469598103934665603
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

var byteChecksum = fray.NewTask("fraytest.byteChecksum", func(_ context.Context, b []byte) (uint64, error) {
	return checksum(b), nil
})

// --- tasks that fail ---------------------------------------------------------------------

var failWith = fray.NewTask("fraytest.failWith", func(_ context.Context, msg string) (int, error) {
	return 0, errors.New(msg)
})

// CodedError is an application error type registered with fray.RegisterError, so it arrives
// as itself on every backend.
type CodedError struct {
	Code   int
	Detail string
}

// Error formats the code and detail.
func (e *CodedError) Error() string { return fmt.Sprintf("coded error %d: %s", e.Code, e.Detail) }

// unregisteredError is deliberately not registered: it must arrive as a *fray.RemoteError.
type unregisteredError struct{ What string }

// Error returns the message.
func (e *unregisteredError) Error() string { return "unregistered: " + e.What }

func init() {
	fray.RegisterError[*CodedError]("fraytest.CodedError")
}

var failCoded = fray.NewTask("fraytest.failCoded", func(_ context.Context, e CodedError) (int, error) {
	return 0, &CodedError{Code: e.Code, Detail: e.Detail}
})

var failUnregistered = fray.NewTask("fraytest.failUnregistered", func(_ context.Context, what string) (int, error) {
	return 0, &unregisteredError{What: what}
})

// panickingTask is a named function so that its name appears in the remote stack.
func panickingTask(_ context.Context, msg string) (int, error) {
	panic("fraytest boom: " + msg)
}

var panicTask = fray.NewTask("fraytest.panicTask", panickingTask)

// goexitTask ends its goroutine with runtime.Goexit, as t.FailNow does in a test helper.
var goexitTask = fray.NewTask("fraytest.goexitTask", func(_ context.Context, _ int) (int, error) {
	runtime.Goexit()
	return 0, nil
})

// DroppedCtx is what droppedCtx saw when it called a task with a ctx that has no job
// context (context.Background() instead of the ctx the task received).
type DroppedCtx struct {
	Err          string // the nested call's error, "" when it succeeded
	NoJobContext bool   // errors.Is(err, fray.ErrNoJobContext)
}

// droppedCtx calls square with context.Background() instead of its own ctx.
var droppedCtx = fray.NewTask("fraytest.droppedCtx", func(_ context.Context, x int) (DroppedCtx, error) {
	_, err := square.Remote(context.Background(), x)
	if err == nil {
		return DroppedCtx{}, nil
	}
	return DroppedCtx{Err: err.Error(), NoJobContext: errors.Is(err, fray.ErrNoJobContext)}, nil
})

// Opaque has an unexported field: the codec must refuse it.
type Opaque struct {
	Visible int
	hidden  int
}

var opaqueResult = fray.NewTask("fraytest.opaqueResult", func(_ context.Context, x int) (Opaque, error) {
	return Opaque{Visible: x, hidden: x}, nil
})

var takesOpaque = fray.NewTask("fraytest.takesOpaque", func(_ context.Context, o Opaque) (int, error) {
	return o.Visible + o.hidden, nil
})

// WithChan holds a channel: the codec must refuse it.
type WithChan struct{ C chan int }

var takesChan = fray.NewTask("fraytest.takesChan", func(_ context.Context, w WithChan) (int, error) {
	return cap(w.C), nil
})

// WithFunc holds a func: the codec must refuse it.
type WithFunc struct{ F func() int }

var takesFunc = fray.NewTask("fraytest.takesFunc", func(_ context.Context, w WithFunc) (int, error) {
	return 0, nil
})

// Node is a linked list: a list of n nodes nests n levels deep, and a cyclic one
// (n.Next = n) cannot be encoded at all. Both must fail at the call site, or for a result
// in Get, with a *fray.SerializationError, never crash the process that encodes them.
type Node struct {
	Label string
	Next  *Node
}

// nodeList returns a list of n nodes, or, for n < 0, a list of -n nodes whose last node
// points back at the first.
func nodeList(n int) *Node {
	k := max(n, -n)
	var head, tail *Node
	for i := 0; i < k; i++ {
		head = &Node{Label: "n", Next: head}
		if tail == nil {
			tail = head
		}
	}
	if n < 0 {
		tail.Next = head
	}
	return head
}

// nodeLen returns the length of an acyclic list.
func nodeLen(n *Node) int {
	k := 0
	for ; n != nil; n = n.Next {
		k++
	}
	return k
}

var listLen = fray.NewTask("fraytest.listLen", func(_ context.Context, n *Node) (int, error) {
	return nodeLen(n), nil
})

// makeList returns nodeList(n): a cyclic or too deep result for the codec to refuse.
var makeList = fray.NewTask("fraytest.makeList", func(_ context.Context, n int) (*Node, error) {
	return nodeList(n), nil
})

// --- tasks that talk to the Recorder ------------------------------------------------------

// Stage is passed from an upstream task to a dependent one (via RemoteRef).
type Stage struct {
	Rec   Rec
	Key   string
	Value int
	Fail  string // non-empty: the upstream fails with this message
}

// upstream returns its argument, or fails when Fail is set.
var upstream = fray.NewTask("fraytest.upstream", func(_ context.Context, s Stage) (Stage, error) {
	if s.Fail != "" {
		return s, errors.New(s.Fail)
	}
	return s, nil
})

// downstream counts its executions in the Recorder under Key and returns Value*10.
var downstream = fray.NewTask("fraytest.downstream", func(ctx context.Context, s Stage) (int, error) {
	if _, err := recIncr.Call(ctx, s.Rec, s.Key); err != nil {
		return 0, err
	}
	return s.Value * 10, nil
})

// Gated describes a task that announces its start and then waits for a gate.
type Gated struct {
	Rec      Rec
	StartKey string // incremented when the task starts
	GateKey  string // the task waits until this counter is >= 1
	Value    int
	Fail     string // fail with this message after the gate opens
}

// gatedValue waits for its gate, then returns Value (or fails).
var gatedValue = fray.NewTask("fraytest.gatedValue", runGated)

func runGated(ctx context.Context, g Gated) (int, error) {
	if g.StartKey != "" {
		if _, err := recIncr.Call(ctx, g.Rec, g.StartKey); err != nil {
			return 0, err
		}
	}
	if g.GateKey != "" {
		if _, err := recAwait.Call(ctx, g.Rec, AwaitArg{Key: g.GateKey, N: 1}); err != nil {
			return 0, err
		}
	}
	if g.Fail != "" {
		return 0, errors.New(g.Fail)
	}
	return g.Value, nil
}

// valueTimesTwo is a dependent task for RemoteRef: it doubles the upstream's int.
var valueTimesTwo = fray.NewTask("fraytest.valueTimesTwo", func(_ context.Context, x int) (int, error) {
	return 2 * x, nil
})

// Holder describes a task that holds resources while it waits for a gate, and reports what
// other tasks see.
type Holder struct {
	Rec      Rec
	Key      string // "<Key>.holding" is 1 while the task holds its resources; "<Key>.runs" counts starts
	GateKey  string
	Observer bool // an observer only records whether a holder was holding when it ran
}

// holdOrObserve: a holder sets "<Key>.holding", waits for the gate, clears it (by bumping
// "<Key>.released"); an observer records "<Key>.overlap" if it runs while a holder holds.
var holdOrObserve = fray.NewTask("fraytest.holdOrObserve", func(ctx context.Context, h Holder) (int, error) {
	if _, err := recIncr.Call(ctx, h.Rec, h.Key+".runs"); err != nil {
		return 0, err
	}
	if h.Observer {
		held, err := recCount.Call(ctx, h.Rec, h.Key+".holding")
		if err != nil {
			return 0, err
		}
		released, err := recCount.Call(ctx, h.Rec, h.Key+".released")
		if err != nil {
			return 0, err
		}
		if held > released {
			if _, err := recIncr.Call(ctx, h.Rec, h.Key+".overlap"); err != nil {
				return 0, err
			}
		}
		return held - released, nil
	}
	if _, err := recIncr.Call(ctx, h.Rec, h.Key+".holding"); err != nil {
		return 0, err
	}
	if _, err := recAwait.Call(ctx, h.Rec, AwaitArg{Key: h.GateKey, N: 1}); err != nil {
		return 0, err
	}
	if _, err := recIncr.Call(ctx, h.Rec, h.Key+".released"); err != nil {
		return 0, err
	}
	return 0, nil
})

// Flaky describes a task that fails until it has run FailUntil times.
type Flaky struct {
	Rec       Rec
	Key       string
	FailUntil int // attempts 1..FailUntil-1 fail; attempt FailUntil succeeds
}

// FlakyResult is what a successful flaky attempt returns.
type FlakyResult struct {
	Run     int // how many times the task has run, this run included
	Attempt int // TaskInfo.Attempt of the successful run
}

var flaky = fray.NewTask("fraytest.flaky", func(ctx context.Context, f Flaky) (FlakyResult, error) {
	n, err := recIncr.Call(ctx, f.Rec, f.Key)
	if err != nil {
		return FlakyResult{}, err
	}
	if f.FailUntil <= 0 || n < f.FailUntil {
		return FlakyResult{}, fmt.Errorf("flaky failure on run %d", n)
	}
	info, _ := fray.TaskInfoFrom(ctx)
	return FlakyResult{Run: n, Attempt: info.Attempt}, nil
})

// Cancellable describes a task that waits for its ctx to be cancelled.
type Cancellable struct {
	Rec      Rec
	StartKey string
	DoneKey  string // incremented (through a ctx that survives the cancel) once ctx is done; "" returns at once
}

var waitForCancel = fray.NewTask("fraytest.waitForCancel", func(ctx context.Context, c Cancellable) (int, error) {
	// The cancel may arrive while this call still waits for its result (the Incr has run,
	// and the test saw it): that is not a failure, just an early cancel. On Ray it may even
	// reach that nested Get (failing it as cancelled) a moment before it reaches this ctx.
	if _, err := recIncr.Call(ctx, c.Rec, c.StartKey); err != nil && ctx.Err() == nil {
		if !errors.Is(err, fray.ErrCancelled) {
			return 0, err
		}
		select {
		case <-ctx.Done():
		case <-time.After(30 * time.Second):
			return 0, fmt.Errorf("the start report failed as cancelled (%w), but the task was not cancelled", err)
		}
	}
	<-ctx.Done()
	if c.DoneKey == "" {
		return 0, ctx.Err()
	}
	// Report through a ctx that keeps the job context but not the cancellation.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := recIncr.Call(rctx, c.Rec, c.DoneKey); err != nil {
		return 0, err
	}
	return 0, ctx.Err()
})

// countRun counts its executions under the key and returns the count.
var countRun = fray.NewTask("fraytest.countRun", func(ctx context.Context, s Stage) (int, error) {
	return recIncr.Call(ctx, s.Rec, s.Key)
})

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
