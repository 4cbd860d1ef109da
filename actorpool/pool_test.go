package actorpool_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/actorpool"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/internal/osproc"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	fray.Init() // the process-actor tests run this binary as worker processes
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// WorkerArg is the Worker actor's constructor argument.
type WorkerArg struct {
	Fail string // non-empty: the constructor fails with this message
}

// Item is one input of Worker.Double.
type Item struct {
	X       int
	SleepMS int    // sleep before answering (any process)
	Gate    string // in-process only: wait until the gate is opened (or ctx ends)
}

type workerState struct{ calls atomic.Int64 }

// gates are in-process barriers for Item.Gate, by name.
var gates sync.Map // string → chan struct{}

var gateSeq atomic.Int64

// uniqueGate names a fresh gate for one test run (-count reruns get new ones).
func uniqueGate(t *testing.T) string {
	return fmt.Sprintf("%s-%d", t.Name(), gateSeq.Add(1))
}

func gate(name string) chan struct{} {
	ch, _ := gates.LoadOrStore(name, make(chan struct{}))
	return ch.(chan struct{})
}

// Worker is the test actor.
var Worker = fray.NewActor("actorpool_test.Worker", func(_ context.Context, a WorkerArg) (*workerState, error) {
	if a.Fail != "" {
		return nil, errors.New(a.Fail)
	}
	return &workerState{}, nil
})

// Double returns 2·X; a negative X is an application error.
var Double = fray.NewMethod(Worker, "Double", func(s *workerState, ctx context.Context, it Item) (int, error) {
	s.calls.Add(1)
	if it.Gate != "" {
		select {
		case <-gate(it.Gate):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	if it.SleepMS > 0 {
		time.Sleep(time.Duration(it.SleepMS) * time.Millisecond)
	}
	if it.X < 0 {
		return 0, fmt.Errorf("negative input %d", it.X)
	}
	return 2 * it.X, nil
})

// Pid returns the process id of the actor's process.
var Pid = fray.NewMethod(Worker, "Pid", func(_ *workerState, _ context.Context, _ struct{}) (int, error) {
	return os.Getpid(), nil
})

// Calls returns how many Double calls the actor ran.
var Calls = fray.NewMethod(Worker, "Calls", func(s *workerState, _ context.Context, _ struct{}) (int64, error) {
	return s.calls.Load(), nil
})

func newJob(t *testing.T, opts local.Options) context.Context {
	t.Helper()
	if opts.Resources == nil {
		opts.Resources = fray.Resources{"CPU": 8}
	}
	jc, err := local.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { jc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return fray.WithJobContext(ctx, jc)
}

func newPool(t *testing.T, ctx context.Context, arg WorkerArg, o actorpool.Options) *actorpool.Pool[workerState, Item, int] {
	t.Helper()
	p, err := actorpool.New(ctx, Worker, arg, Double, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func items(n int) []Item {
	out := make([]Item, n)
	for i := range out {
		out[i] = Item{X: i}
	}
	return out
}

func TestMapIsOrdered(t *testing.T) {
	ctx := newJob(t, local.Options{})
	p := newPool(t, ctx, WorkerArg{}, actorpool.Options{Size: 3})
	got, err := p.Map(ctx, items(100))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != 2*i {
			t.Fatalf("Map[%d] = %d, want %d", i, v, 2*i)
		}
	}
	// The work was spread: every actor ran some of it.
	for _, h := range p.Handles() {
		if n, err := Calls.Call(ctx, h, struct{}{}); err != nil || n == 0 {
			t.Errorf("actor %s ran %d calls (%v); want some", h.ID(), n, err)
		}
	}
}

func TestMapUnorderedYieldsEveryItemOnce(t *testing.T) {
	ctx := newJob(t, local.Options{})
	p := newPool(t, ctx, WorkerArg{}, actorpool.Options{Size: 2, MaxInFlight: 3})
	seen := map[int]bool{}
	for r := range p.MapUnordered(ctx, items(50)) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if seen[r.Index] || r.Value != 2*r.Index {
			t.Fatalf("result %+v: duplicate or wrong", r)
		}
		seen[r.Index] = true
	}
	if len(seen) != 50 {
		t.Fatalf("%d results, want 50", len(seen))
	}
}

func TestMapSeqIsOrderedAndBounded(t *testing.T) {
	ctx := newJob(t, local.Options{})
	p := newPool(t, ctx, WorkerArg{}, actorpool.Options{Size: 2, MaxInFlight: 2})
	var produced, consumed int
	seq := func(yield func(Item) bool) {
		for i := range 200 {
			produced++
			if produced-consumed > 2*p.Capacity()+1 {
				t.Errorf("MapSeq read %d items ahead of its results; the bound is %d", produced-consumed, 2*p.Capacity())
			}
			if !yield(Item{X: i}) {
				return
			}
		}
	}
	for r := range p.MapSeq(ctx, seq) {
		if r.Err != nil || r.Index != consumed || r.Value != 2*consumed {
			t.Fatalf("result %+v, want index %d value %d", r, consumed, 2*consumed)
		}
		consumed++
	}
	if consumed != 200 {
		t.Fatalf("%d results, want 200", consumed)
	}
}

func TestStopRangeEarlyLetsGo(t *testing.T) {
	ctx := newJob(t, local.Options{})
	p := newPool(t, ctx, WorkerArg{}, actorpool.Options{Size: 2})
	block := uniqueGate(t)
	in := append([]Item{{X: 1}}, make([]Item, 10)...)
	for i := 1; i < len(in); i++ {
		in[i] = Item{X: i, Gate: block}
	}
	for r := range p.MapUnordered(ctx, in) {
		if r.Err != nil || r.Index != 0 {
			t.Fatalf("first result %+v, want item 0", r)
		}
		break
	}
	if s := p.Stats(); s.InFlight != 0 {
		t.Fatalf("%d calls in flight after the range stopped; want 0", s.InFlight)
	}
	n := 0
	for r := range p.MapSeq(ctx, func(yield func(Item) bool) {
		for i := 0; yield(Item{X: i}); i++ {
		}
	}) {
		if n++; n == 5 || r.Err != nil {
			break
		}
	}
	if s := p.Stats(); s.InFlight != 0 || n != 5 {
		t.Fatalf("after MapSeq stopped at %d: %d in flight; want 5 and 0", n, s.InFlight)
	}
}

func TestSubmitAndGetNext(t *testing.T) {
	ctx := newJob(t, local.Options{})
	p := newPool(t, ctx, WorkerArg{}, actorpool.Options{Size: 2})
	if _, err := p.GetNext(ctx); !errors.Is(err, actorpool.ErrNothingPending) {
		t.Fatalf("GetNext on an empty pool: %v, want ErrNothingPending", err)
	}
	for i := range 6 {
		idx, err := p.Submit(ctx, Item{X: i})
		if err != nil || idx != i {
			t.Fatalf("Submit %d = %d, %v", i, idx, err)
		}
	}
	for i := range 3 {
		v, err := p.GetNext(ctx)
		if err != nil || v != 2*i {
			t.Fatalf("GetNext = %d, %v; want %d", v, err, 2*i)
		}
	}
	var rest []int
	for p.HasNext() {
		idx, v, err := p.GetNextUnordered(ctx)
		if err != nil || v != 2*idx {
			t.Fatalf("GetNextUnordered = %d, %d, %v", idx, v, err)
		}
		rest = append(rest, idx)
	}
	sort.Ints(rest)
	if fmt.Sprint(rest) != "[3 4 5]" {
		t.Fatalf("unordered indices %v, want [3 4 5]", rest)
	}
}

func TestBackpressureBoundsInFlight(t *testing.T) {
	ctx := newJob(t, local.Options{})
	p := newPool(t, ctx, WorkerArg{}, actorpool.Options{Size: 2, MaxInFlight: 1})
	g := uniqueGate(t)
	for i := range 2 {
		if _, err := p.Submit(ctx, Item{X: i, Gate: g}); err != nil {
			t.Fatal(err)
		}
	}
	// Both actors have their one call: a third Submit cannot get room until one finishes.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := p.Submit(short, Item{X: 9}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third Submit with both actors busy: %v, want it to wait until its ctx ends", err)
	}
	if s := p.Stats(); s.InFlight != 2 {
		t.Fatalf("in flight %d, want 2", s.InFlight)
	}
	close(gate(g))
	for p.HasNext() {
		if _, err := p.GetNext(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMethodErrorIsNotRetried(t *testing.T) {
	ctx := newJob(t, local.Options{})
	p := newPool(t, ctx, WorkerArg{}, actorpool.Options{Size: 1})
	_, err := p.Map(ctx, []Item{{X: 1}, {X: -2}, {X: 3}})
	var ie *actorpool.ItemError
	if !errors.As(err, &ie) || ie.Index != 1 || !errors.Is(err, fray.ErrTaskFailed) {
		t.Fatalf("Map error %v, want an *ItemError for item 1 matching ErrTaskFailed", err)
	}
	if n, _ := Calls.Call(ctx, p.Handles()[0], struct{}{}); n > 3 {
		t.Fatalf("the actor ran %d calls for 3 items: a method error was retried", n)
	}
	if s := p.Stats(); s.Replacements != 0 {
		t.Fatalf("%d replacements after a method error; want 0", s.Replacements)
	}
}

func TestKilledActorItemsRunOnReplacement(t *testing.T) {
	ctx := newJob(t, local.Options{})
	p := newPool(t, ctx, WorkerArg{}, actorpool.Options{Size: 2, MaxInFlight: 2})
	g := uniqueGate(t)
	in := make([]Item, 8)
	for i := range in {
		in[i] = Item{X: i, Gate: g}
	}
	victim := p.Handles()[0]
	done := make(chan error, 1)
	var got []int
	go func() {
		var err error
		got, err = p.Map(ctx, in)
		done <- err
	}()
	for p.Stats().InFlight < 4 { // both actors hold two gated calls
		time.Sleep(time.Millisecond)
	}
	if err := victim.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	for p.Stats().Replacements < 1 {
		time.Sleep(time.Millisecond)
	}
	close(gate(g))
	if err := <-done; err != nil {
		t.Fatalf("Map after an actor was killed: %v", err)
	}
	for i, v := range got {
		if v != 2*i {
			t.Fatalf("Map[%d] = %d, want %d", i, v, 2*i)
		}
	}
	s := p.Stats()
	if s.Replacements != 1 || s.Live != 2 || s.Retried < 2 {
		t.Fatalf("stats %+v: want 1 replacement, 2 live actors, the victim's 2 items retried", s)
	}
	for _, h := range p.Handles() {
		if h.ID() == victim.ID() {
			t.Fatal("the killed actor is still in the pool")
		}
	}
}

func TestExhaustion(t *testing.T) {
	ctx := newJob(t, local.Options{})
	cases := []struct {
		name         string
		retries      int
		replacements int
		want         error
	}{
		{"retries", 1, 10, actorpool.ErrRetriesExhausted},
		{"replacements", 10, 2, actorpool.ErrNoActors},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Every actor's constructor fails, so every call dies with its actor.
			p := newPool(t, ctx, WorkerArg{Fail: "no model here"}, actorpool.Options{Size: 1,
				MaxRetries: fray.Retries(c.retries), MaxReplacements: fray.Retries(c.replacements)})
			_, err := p.Call(ctx, Item{X: 1})
			if !errors.Is(err, c.want) || !errors.Is(err, fray.ErrActorDied) {
				t.Fatalf("error %v, want one matching %v and fray.ErrActorDied", err, c.want)
			}
			var re *actorpool.RetriesExhaustedError
			if errors.As(err, &re) && re.Attempts != c.retries+1 {
				t.Fatalf("%d attempts, want %d", re.Attempts, c.retries+1)
			}
			if s := p.Stats(); s.Replacements > c.replacements {
				t.Fatalf("%d replacements, over the limit %d", s.Replacements, c.replacements)
			}
		})
	}
}

func TestCancelAndClose(t *testing.T) {
	ctx := newJob(t, local.Options{})
	p := newPool(t, ctx, WorkerArg{}, actorpool.Options{Size: 2})
	g := uniqueGate(t) // never opened
	in := []Item{{X: 1, Gate: g}, {X: 2, Gate: g}, {X: 3, Gate: g}}

	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := p.Map(cctx, in); done <- err }()
	for p.Stats().InFlight < 3 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Map: %v, want context.Canceled", err)
	}
	if s := p.Stats(); s.InFlight != 0 {
		t.Fatalf("%d in flight after the cancelled Map returned", s.InFlight)
	}

	for _, it := range in {
		if _, err := p.Submit(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.GetNext(ctx); !errors.Is(err, actorpool.ErrClosed) {
		t.Fatalf("GetNext of an item cut short by Close: %v, want ErrClosed", err)
	}
	if _, err := p.Submit(ctx, Item{}); !errors.Is(err, actorpool.ErrClosed) {
		t.Fatalf("Submit after Close: %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := goleak.Find(goleak.IgnoreCurrent()); err != nil {
		t.Fatalf("goroutines left after Close: %v", err)
	}
}

func TestOptionsValidation(t *testing.T) {
	ctx := newJob(t, local.Options{})
	cases := []struct {
		name string
		o    actorpool.Options
	}{
		{"zero size", actorpool.Options{}},
		{"negative in flight", actorpool.Options{Size: 1, MaxInFlight: -1}},
		{"negative retries", actorpool.Options{Size: 1, MaxRetries: fray.Retries(-1)}},
		{"negative replacements", actorpool.Options{Size: 1, MaxReplacements: fray.Retries(-2)}},
		{"named", actorpool.Options{Size: 1, Actor: fray.ActorOptions{Name: "m"}}},
		{"detached", actorpool.Options{Size: 1, Actor: fray.ActorOptions{Lifetime: fray.Detached}}},
		{"bad actor options", actorpool.Options{Size: 1, Actor: fray.ActorOptions{MaxRestarts: -5}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := actorpool.New(ctx, Worker, WorkerArg{}, Double, c.o)
			if err == nil {
				p.Close()
				t.Fatal("New accepted the options")
			}
			if !errors.Is(err, actorpool.ErrInvalidOptions) && !errors.Is(err, fray.ErrInvalidArgument) {
				t.Fatalf("error %v matches neither ErrInvalidOptions nor fray.ErrInvalidArgument", err)
			}
		})
	}
	if _, err := actorpool.New(context.Background(), Worker, WorkerArg{}, Double, actorpool.Options{Size: 1}); !errors.Is(err, fray.ErrNoJobContext) {
		t.Fatalf("New without a job context: %v", err)
	}
}

// TestKilledProcessActor kills an actor's worker process with SIGKILL while it has items
// in flight: they run again on a replacement and Map still returns every result.
func TestKilledProcessActor(t *testing.T) {
	ctx := newJob(t, local.Options{Isolation: local.IsolateProcess})
	p := newPool(t, ctx, WorkerArg{}, actorpool.Options{Size: 2, MaxInFlight: 2})
	victim := p.Handles()[0]
	pid, err := Pid.Call(ctx, victim, struct{}{})
	if err != nil {
		t.Fatal(err)
	}
	if pid == os.Getpid() {
		t.Fatal("the actor runs in the test process; want a worker process")
	}
	in := make([]Item, 16)
	for i := range in {
		in[i] = Item{X: i, SleepMS: 100}
	}
	done := make(chan error, 1)
	var got []int
	go func() {
		var err error
		got, err = p.Map(ctx, in)
		done <- err
	}()
	for p.Stats().InFlight < 4 {
		time.Sleep(time.Millisecond)
	}
	if err := osproc.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Map after the actor's process was killed: %v", err)
	}
	for i, v := range got {
		if v != 2*i {
			t.Fatalf("Map[%d] = %d, want %d", i, v, 2*i)
		}
	}
	if s := p.Stats(); s.Replacements != 1 || s.Retried < 1 {
		t.Fatalf("stats %+v: want 1 replacement and the victim's items retried", s)
	}
	h := p.Handles()
	if len(h) != 2 || h[0].ID() == victim.ID() || h[1].ID() == victim.ID() {
		t.Fatalf("handles after the kill: %v; want two, without the victim", h)
	}
}
