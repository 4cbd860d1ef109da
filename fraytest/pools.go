package fraytest

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/actorpool"
)

// poolSquare is the actor pools' method: a pure function of its input, so results can be
// checked whichever actor ran them, and how often.
var poolSquare = fray.NewMethod(Counter, "PoolSquare", func(_ *CounterState, _ context.Context, x int) (int, error) {
	if x < 0 {
		return 0, errors.New("negative input")
	}
	return x * x, nil
})

func poolCases() []testCase {
	return []testCase{
		{"MapOrderedAndUnordered", testPoolMap},
		{"SubmitGetNextAndClose", testPoolSubmit},
		{"KilledActorIsReplaced", testPoolKilledActor},
		{"MethodErrorIsItemError", testPoolMethodError},
	}
}

func (s *env) newPool(size int) *actorpool.Pool[CounterState, int, int] {
	s.Helper()
	p, err := actorpool.New(s.Ctx, Counter, 0, poolSquare, actorpool.Options{Size: size})
	s.must(err, "actorpool.New")
	s.Cleanup(func() { p.Close() })
	return p
}

func testPoolMap(s *env) {
	p := s.newPool(2)
	in := make([]int, 20)
	for i := range in {
		in[i] = i
	}
	out, err := p.Map(s.Ctx, in)
	s.must(err, "Map")
	for i, v := range out {
		if v != i*i {
			s.Fatalf("Map[%d] = %d, want %d", i, v, i*i)
		}
	}
	var idx []int
	for r := range p.MapUnordered(s.Ctx, in) {
		s.must(r.Err, "MapUnordered item")
		if r.Value != r.Index*r.Index {
			s.Fatalf("MapUnordered item %d = %d", r.Index, r.Value)
		}
		idx = append(idx, r.Index)
	}
	sort.Ints(idx)
	if len(idx) != len(in) || idx[0] != 0 || idx[len(idx)-1] != len(in)-1 {
		s.Fatalf("MapUnordered indices %v", idx)
	}
}

func testPoolSubmit(s *env) {
	p := s.newPool(2)
	for i := range 5 {
		_, err := p.Submit(s.Ctx, i)
		s.must(err, "Submit")
	}
	for i := range 5 {
		v, err := p.GetNext(s.Ctx)
		if err != nil || v != i*i {
			s.Fatalf("GetNext = %d, %v; want %d", v, err, i*i)
		}
	}
	if p.HasNext() {
		s.Fatal("HasNext after every result was taken")
	}
	handles := p.Handles()
	s.must(p.Close(), "Close")
	// Close killed the actors.
	err := sub(counterAdd.Remote(s.Ctx, handles[0], 1)).outcome(s)
	s.wantErr(err, fray.ErrActorDied, "call to a pool actor after Close")
	_, err = p.Submit(s.Ctx, 1)
	s.wantErr(err, actorpool.ErrClosed, "Submit after Close")
}

func testPoolKilledActor(s *env) {
	p := s.newPool(2)
	victim := p.Handles()[0]
	s.must(victim.Kill(s.Ctx), "Kill")
	err := sub(counterAdd.Remote(s.Ctx, victim, 1)).outcome(s)
	s.wantErr(err, fray.ErrActorDied, "call to the killed actor")
	in := make([]int, 12)
	for i := range in {
		in[i] = i
	}
	out, err := p.Map(s.Ctx, in)
	s.must(err, "Map with a dead actor in the pool")
	for i, v := range out {
		if v != i*i {
			s.Fatalf("Map[%d] = %d, want %d", i, v, i*i)
		}
	}
	// The replacement is created on a goroutine of its own, so Map may finish on the
	// surviving actor before it joins: wait (bounded) for it rather than race it.
	st := p.Stats()
	for deadline := time.Now().Add(30 * time.Second); st.Live < 2 && time.Now().Before(deadline); st = p.Stats() {
		time.Sleep(10 * time.Millisecond)
	}
	if st.Replacements != 1 || st.Live != 2 {
		s.Fatalf("pool stats %+v: want the dead actor replaced once and 2 live actors", st)
	}
	for _, h := range p.Handles() {
		if h.ID() == victim.ID() {
			s.Fatal("the killed actor is still in the pool")
		}
	}
}

func testPoolMethodError(s *env) {
	p := s.newPool(1)
	_, err := p.Map(s.Ctx, []int{1, -1, 2})
	s.wantErr(err, fray.ErrTaskFailed, "Map over a failing item")
	var ie *actorpool.ItemError
	if !errors.As(err, &ie) || ie.Index != 1 {
		s.Fatalf("Map error %v: want an *actorpool.ItemError for item 1", err)
	}
	if st := p.Stats(); st.Replacements != 0 {
		s.Fatalf("a method error replaced an actor: %+v", st)
	}
}
