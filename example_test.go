package fray_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sort"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
)

// Tasks and actors are declared once, at package level, under stable names.

// Square squares a number.
var Square = fray.NewTask("examples.square", func(ctx context.Context, x int) (int, error) {
	return x * x, nil
})

// SumOfSquares launches nested tasks from inside a task: the ctx it receives already carries
// the job context.
var SumOfSquares = fray.NewTask("examples.sumOfSquares", func(ctx context.Context, n int) (int, error) {
	refs := make([]fray.Ref[int], n)
	for i := range refs {
		r, err := Square.Remote(ctx, i+1)
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

// StatusActor is the executor's lock table, ported from Marin (pattern 2).
type StatusActor struct{ owners map[string]string }

// StatusConfig configures a StatusActor.
type StatusConfig struct{ CacheSize int }

// LockRequest asks for the lock on Path for Owner.
type LockRequest struct{ Path, Owner string }

// Status is the registered actor class.
var Status = fray.NewActor("examples.StatusActor", func(ctx context.Context, cfg StatusConfig) (*StatusActor, error) {
	return &StatusActor{owners: map[string]string{}}, nil
})

// TryLock takes the lock on a path if nobody holds it and returns the holder.
func (s *StatusActor) TryLock(ctx context.Context, req LockRequest) (string, error) {
	if cur, ok := s.owners[req.Path]; ok {
		return cur, nil
	}
	s.owners[req.Path] = req.Owner
	return req.Owner, nil
}

// TryLockMethod is the registered method.
var TryLockMethod = fray.NewMethod(Status, "TryLock", (*StatusActor).TryLock)

func newJob() (context.Context, func()) {
	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 4, "head_node": 1}})
	if err != nil {
		log.Fatal(err)
	}
	return fray.WithJobContext(context.Background(), jc), func() { jc.Close() }
}

// A task call returns a typed Ref; Get yields the value.
func Example() {
	ctx, done := newJob()
	defer done()

	ref, err := Square.Remote(ctx, 7)
	if err != nil {
		log.Fatal(err)
	}
	v, err := ref.Get(ctx)
	fmt.Println(v, err)
	// Output: 49 <nil>
}

// Nested tasks need nothing but the ctx the task received.
func ExampleTask_Remote_nested() {
	ctx, done := newJob()
	defer done()

	sum, err := SumOfSquares.Call(ctx, 4)
	fmt.Println(sum, err)
	// Output: 30 <nil>
}

// A top-level ref argument is resolved before the task runs.
func ExampleTask_RemoteRef() {
	ctx, done := newJob()
	defer done()

	nine, _ := Square.Remote(ctx, 3)
	eightyOne, _ := Square.RemoteRef(ctx, nine)
	v, _ := eightyOne.Get(ctx)
	fmt.Println(v)
	// Output: 81
}

// Marin's StatusActor, created exactly as Marin's executor creates it.
func ExampleActor_Create() {
	ctx, done := newJob()
	defer done()

	opts := fray.ActorOptions{
		Name:        "status_actor",
		Namespace:   "marin",
		GetIfExists: true,
		Lifetime:    fray.Detached,
		Resources:   fray.Resources{"CPU": 0, "head_node": 0.0001},
	}
	h, err := Status.Create(ctx, StatusConfig{CacheSize: 10_000}, opts)
	if err != nil {
		log.Fatal(err)
	}
	first, _ := TryLockMethod.Call(ctx, h, LockRequest{Path: "out/step-abc123", Owner: "executor-1"})
	// A second Create with GetIfExists finds the same actor.
	again, _ := Status.Create(ctx, StatusConfig{}, opts)
	second, _ := TryLockMethod.Call(ctx, again, LockRequest{Path: "out/step-abc123", Owner: "executor-2"})
	fmt.Println(first, second, h.ID() == again.ID())
	// Output: executor-1 executor-1 true
}

// Wait returns ready and pending refs in input order.
func ExampleWait() {
	ctx, done := newJob()
	defer done()

	var refs []fray.AnyRef
	for i := 1; i <= 5; i++ {
		r, _ := Square.Remote(ctx, i)
		refs = append(refs, r)
	}
	ready, pending, err := fray.Wait(ctx, refs, 5, 10*time.Second)
	fmt.Println(len(ready), len(pending), err)
	// Output: 5 0 <nil>
}

// AsCompleted yields refs as they finish, without fetching; Get fetches when needed.
func ExampleAsCompleted() {
	ctx, done := newJob()
	defer done()

	var refs []fray.Ref[int]
	for i := 1; i <= 3; i++ {
		r, _ := Square.Remote(ctx, i)
		refs = append(refs, r)
	}
	sum := 0
	for r, err := range fray.AsCompleted(ctx, refs) {
		if err != nil {
			fmt.Println(err)
			return
		}
		v, _ := r.Get(ctx)
		sum += v
	}
	fmt.Println(sum)
	// Output: 14
}

// Options are validated the way Ray validates them, with messages that say what to do.
func ExampleResources_Validate() {
	err := fray.Resources{"num_cpus": 4}.Validate()
	fmt.Println(err)
	fmt.Println(errors.Is(err, fray.ErrInvalidResources))
	// Output:
	// fray: invalid resource "num_cpus" = 4: fray uses Ray's resource keys, not its keyword arguments: use "CPU"
	// true
}

// Forgetting the job context is an error that says how to set one.
func ExampleJobContextFrom() {
	_, err := Square.Remote(context.Background(), 1)
	fmt.Println(errors.Is(err, fray.ErrNoJobContext))
	// Output: true
}

// GetAll keeps input order.
func ExampleGetAll() {
	ctx, done := newJob()
	defer done()
	var refs []fray.Ref[int]
	for _, x := range []int{3, 1, 2} {
		r, _ := Square.Remote(ctx, x)
		refs = append(refs, r)
	}
	vs, _ := fray.GetAll(ctx, refs)
	fmt.Println(vs, sort.IntsAreSorted(vs))
	// Output: [9 1 4] false
}
