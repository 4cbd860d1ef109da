package fraytest

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/fray-go/fray"
)

func resourceCases() []testCase {
	return []testCase{
		{"RayKeywordNamesRejected", testResRayisms},
		{"InvalidAmountsRejected", testResInvalid},
		{"ValidAmountsAccepted", testResValid},
		{"CustomResourceLimitsConcurrency", testResAdmission},
		{"Infeasible", testResInfeasible},
	}
}

func testResRayisms(s *env) {
	for _, c := range []struct{ key, want string }{
		{"num_cpus", `"CPU"`}, {"num_gpus", `"GPU"`}, {"cpus", `"CPU"`}, {"gpu", `"GPU"`},
	} {
		err := sub(square.Remote(s.Ctx, 1, fray.TaskOptions{Resources: fray.Resources{c.key: 1}})).outcome(s)
		s.wantErr(err, fray.ErrInvalidResources, "task resource "+c.key)
		s.wantContains(err, "task resource "+c.key, c.key, c.want)
		_, err = Counter.Create(s.Ctx, 0, fray.ActorOptions{Resources: fray.Resources{c.key: 1}})
		s.wantErr(err, fray.ErrInvalidResources, "actor resource "+c.key)
		s.wantContains(err, "actor resource "+c.key, c.want)
	}
}

func testResInvalid(s *env) {
	cases := []struct {
		name string
		res  fray.Resources
	}{
		{"negative CPU", fray.Resources{fray.CPU: -1}},
		{"NaN", fray.Resources{fray.CPU: math.NaN()}},
		{"+Inf", fray.Resources{s.b.Scarce: math.Inf(1)}},
		{"-Inf", fray.Resources{s.b.Scarce: math.Inf(-1)}},
		{"below 0.0001", fray.Resources{fray.HeadNode: 0.00005}},
		{"fractional GPU above 1", fray.Resources{fray.GPU: 1.5}},
		{"fractional TPU above 1", fray.Resources{fray.TPU: 2.5}},
		{"fractional TPU", fray.Resources{fray.TPU: 0.5}},
		{"TPU not 1, 2, 4 or 8", fray.Resources{fray.TPU: 3}},
		{"empty name", fray.Resources{"": 1}},
	}
	for _, c := range cases {
		err := sub(square.Remote(s.Ctx, 1, fray.TaskOptions{Resources: c.res})).outcome(s)
		if !errors.Is(err, fray.ErrInvalidResources) {
			s.Errorf("task %s %v: got %v, want fray.ErrInvalidResources", c.name, c.res, err)
		}
		_, err = Counter.Create(s.Ctx, 0, fray.ActorOptions{Resources: c.res})
		if !errors.Is(err, fray.ErrInvalidResources) {
			s.Errorf("actor %s %v: got %v, want fray.ErrInvalidResources", c.name, c.res, err)
		}
	}
}

func testResValid(s *env) {
	cases := []fray.Resources{
		s.onHead(),
		{fray.CPU: 0.5},
		{fray.CPU: 0},
		{s.b.Scarce: 1},
		{fray.Memory: 1 << 20},
		{s.b.Scarce: 1, fray.CPU: 1},
	}
	// Accelerator requests only where the cluster declares the chips (Ray would leave them
	// pending forever, correctly, on a cluster without any).
	if s.offers(fray.TPU, 2) {
		cases = append(cases, fray.Resources{fray.TPU: 2})
	}
	if s.offers(fray.GPU, 1) {
		cases = append(cases, fray.Resources{fray.GPU: 1}, fray.Resources{fray.GPU: 0.5})
	}
	for _, r := range cases {
		v, err := square.Call(s.Ctx, 6, fray.TaskOptions{Resources: r})
		if err != nil || v != 36 {
			s.Errorf("task with resources %v: %d, %v; want 36", r, v, err)
		}
	}
	h, err := Counter.Create(s.Ctx, 1, fray.ActorOptions{Resources: s.onHead()})
	s.must(err, "create zero-CPU actor")
	if v, err := counterAdd.Call(s.Ctx, h, 1); err != nil || v != 2 {
		s.Errorf("zero-CPU actor Add = %d, %v; want 2", v, err)
	}
}

// testResAdmission: a task holding all of a custom resource keeps another task that needs it
// from running until the first finishes. The observer records whether it ever ran while the
// holder held the resource.
func testResAdmission(s *env) {
	rec := s.recorder()
	s.openGateAtCleanup(rec, "gate")
	widget, widgetCapacity := s.scarce()
	all := fray.TaskOptions{Resources: fray.Resources{widget: float64(widgetCapacity)}}
	holder, err := holdOrObserve.Remote(s.Ctx, Holder{Rec: rec, Key: "w", GateKey: "gate"}, all)
	s.must(err, "submit holder")
	s.await(rec, "w.holding", 1)
	observer, err := holdOrObserve.Remote(s.Ctx, Holder{Rec: rec, Key: "w", Observer: true}, all)
	s.must(err, "submit observer")
	// Give a broken scheduler the chance to start the observer while the holder holds. A
	// correct one leaves it pending; this is a bounded look, not a timing assertion.
	ready, _, err := fray.Wait(s.Ctx, []fray.AnyRef{observer}, 1, 100*time.Millisecond)
	s.must(err, "Wait")
	if len(ready) != 0 {
		s.Errorf("a task needing %d %s ran while another task held all of it", widgetCapacity, widget)
	}
	s.incr(rec, "gate")
	sub(holder, nil).get(s)
	if v := sub(observer, nil).get(s); v != 0 {
		s.Errorf("observer ran while the holder still held the resource")
	}
	if n := s.count(rec, "w.overlap"); n != 0 {
		s.Errorf("resource admission overlapped %d times", n)
	}
	if n := s.count(rec, "w.runs"); n != 2 {
		s.Errorf("holder and observer ran %d times in all, want 2", n)
	}
}

func testResInfeasible(s *env) {
	widget, widgetCapacity := s.scarce()
	too := fray.Resources{widget: float64(widgetCapacity + 1)}
	ref, err := square.Remote(s.Ctx, 2, fray.TaskOptions{Resources: too})
	if s.b.Caps.InfeasibleFailsFast {
		if err == nil {
			_, err = ref.Get(s.Ctx)
		}
		s.wantErr(err, fray.ErrInfeasible, "task requesting more than the cluster has")
		var ie *fray.InfeasibleError
		if errors.As(err, &ie) {
			if ie.Resource != widget || ie.Requested != float64(widgetCapacity+1) {
				s.Errorf("InfeasibleError = %+v, want resource %s requested %d", *ie, widget, widgetCapacity+1)
			}
		} else {
			s.Errorf("error %v is not a *fray.InfeasibleError", err)
		}
		s.wantContains(err, "message", widget)
		// Actor creation is asynchronous: the error may come from Create or from the first call.
		h, err := Counter.Create(s.Ctx, 0, fray.ActorOptions{Resources: too})
		if err == nil {
			err = sub(counterAdd.Remote(s.Ctx, h, 1)).outcome(s)
		}
		s.wantErr(err, fray.ErrInfeasible, "actor requesting more than the cluster has")
		return
	}
	// Ray's default: an infeasible request stays pending, and can be cancelled.
	s.must(err, "submit infeasible task")
	ready, pending, err := fray.Wait(s.Ctx, []fray.AnyRef{ref}, 1, 0)
	s.must(err, "Wait")
	if len(ready) != 0 || len(pending) != 1 {
		_, gerr := ref.Get(s.Ctx)
		s.Fatalf("infeasible task is ready (%v); the backend declared that infeasible requests stay pending", gerr)
	}
	s.must(fray.Cancel(s.Ctx, ref, false), "Cancel")
	_, err = ref.Get(s.Ctx)
	s.wantErr(err, fray.ErrCancelled, fmt.Sprintf("Get of a cancelled infeasible task (%v)", too))
}
