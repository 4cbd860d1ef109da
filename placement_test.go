package fray

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fray-go/fray/backend"
)

func TestPlacementStrategyNames(t *testing.T) {
	for _, tc := range []struct {
		s    PlacementStrategy
		name string
	}{{Pack, "PACK"}, {Spread, "SPREAD"}, {StrictPack, "STRICT_PACK"}, {StrictSpread, "STRICT_SPREAD"}} {
		if got := tc.s.String(); got != tc.name {
			t.Errorf("%d.String() = %q, want %q", int(tc.s), got, tc.name)
		}
		back, err := ParsePlacementStrategy(tc.name)
		if err != nil || back != tc.s {
			t.Errorf("ParsePlacementStrategy(%q) = %v, %v", tc.name, back, err)
		}
	}
	if _, err := ParsePlacementStrategy("pack"); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "STRICT_PACK") {
		t.Errorf("ParsePlacementStrategy(pack) = %v, want an invalid-argument error listing the spellings", err)
	}
	if s := PlacementStrategy(9).String(); s != "PlacementStrategy(9)" {
		t.Errorf("unknown strategy String = %q", s)
	}
}

func TestPlacementGroupOptionsValidate(t *testing.T) {
	cpu := Resources{CPU: 1}
	for _, tc := range []struct {
		name string
		opts PlacementGroupOptions
		want error  // nil: valid
		say  string // in the message
	}{
		{"one bundle", PlacementGroupOptions{Bundles: []Resources{cpu}}, nil, ""},
		{"named detached strict", PlacementGroupOptions{Name: "g", Namespace: "ns", Bundles: []Resources{cpu, {GPU: 1}}, Strategy: StrictSpread, Lifetime: Detached}, nil, ""},
		{"zero amounts beside a positive one", PlacementGroupOptions{Bundles: []Resources{{CPU: 1, GPU: 0}}}, nil, ""},
		{"no bundles", PlacementGroupOptions{}, ErrInvalidArgument, "at least one bundle"},
		{"empty bundle", PlacementGroupOptions{Bundles: []Resources{cpu, {}}}, ErrInvalidResources, "bundle 1"},
		{"all-zero bundle", PlacementGroupOptions{Bundles: []Resources{{CPU: 0}}}, ErrInvalidResources, "positive amount"},
		{"negative amount", PlacementGroupOptions{Bundles: []Resources{{CPU: -1}}}, ErrInvalidResources, "negative"},
		{"NaN amount", PlacementGroupOptions{Bundles: []Resources{{CPU: math.NaN()}}}, ErrInvalidResources, "finite"},
		{"Ray keyword", PlacementGroupOptions{Bundles: []Resources{{"num_cpus": 1}}}, ErrInvalidResources, `"CPU"`},
		{"fractional TPU", PlacementGroupOptions{Bundles: []Resources{{TPU: 0.5}}}, ErrInvalidResources, "TPU"},
		{"unknown strategy", PlacementGroupOptions{Bundles: []Resources{cpu}, Strategy: 7}, ErrInvalidArgument, "fray.StrictPack"},
		{"unknown lifetime", PlacementGroupOptions{Bundles: []Resources{cpu}, Lifetime: 3}, ErrInvalidArgument, "Lifetime"},
		{"namespace without name", PlacementGroupOptions{Namespace: "ns", Bundles: []Resources{cpu}}, ErrInvalidArgument, "without a Name"},
	} {
		err := tc.opts.Validate()
		switch {
		case tc.want == nil && err != nil:
			t.Errorf("%s: unexpected error %v", tc.name, err)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		case tc.want != nil && !strings.Contains(err.Error(), tc.say):
			t.Errorf("%s: %q does not say %q", tc.name, err, tc.say)
		}
	}
}

func testGroup(bundles ...Resources) PlacementGroup {
	bs := make([]map[string]float64, len(bundles))
	for i, b := range bundles {
		bs[i] = b
	}
	return PlacementGroup{job: "j1", info: backend.PlacementGroupInfo{ID: "pg-1", Name: "g", Bundles: bs, Strategy: "STRICT_PACK"}}
}

func TestPlacementOptionsValidate(t *testing.T) {
	g := testGroup(Resources{CPU: 2}, Resources{CPU: 1, GPU: 1})
	for _, tc := range []struct {
		name  string
		task  *TaskOptions
		actor *ActorOptions
		want  error
		say   string
	}{
		{"task default CPU in bundle 0", &TaskOptions{Placement: &PlacementOptions{Group: g}}, nil, nil, ""},
		{"task GPU in bundle 1", &TaskOptions{Resources: Resources{GPU: 1}, Placement: &PlacementOptions{Group: g, Bundle: 1}}, nil, nil, ""},
		{"task GPU in any bundle", &TaskOptions{Resources: Resources{GPU: 1}, Placement: &PlacementOptions{Group: g, Bundle: AnyBundle}}, nil, nil, ""},
		{"task without CPU", &TaskOptions{Resources: Resources{CPU: 0}, Placement: &PlacementOptions{Group: g, Bundle: 1}}, nil, nil, ""},
		{"task GPU in bundle 0", &TaskOptions{Resources: Resources{GPU: 1}, Placement: &PlacementOptions{Group: g}}, nil, ErrPlacement, "GPU 1 > 0"},
		{"task too big for any", &TaskOptions{Resources: Resources{CPU: 3}, Placement: &PlacementOptions{Group: g, Bundle: AnyBundle}}, nil, ErrPlacement, "no bundle"},
		{"bundle out of range", &TaskOptions{Placement: &PlacementOptions{Group: g, Bundle: 2}}, nil, ErrPlacement, "use 0..1"},
		{"bundle below -1", &TaskOptions{Placement: &PlacementOptions{Group: g, Bundle: -2}}, nil, ErrPlacement, "out of range"},
		{"zero group", &TaskOptions{Placement: &PlacementOptions{}}, nil, ErrInvalidArgument, "zero Group"},
		{"actor default placement CPU", nil, &ActorOptions{Placement: &PlacementOptions{Group: g}}, nil, ""},
		{"actor held GPU in bundle 0", nil, &ActorOptions{Resources: Resources{GPU: 1}, Placement: &PlacementOptions{Group: g}}, ErrPlacement, "actor needs"},
		{"actor zero group", nil, &ActorOptions{Placement: &PlacementOptions{Bundle: 0}}, ErrInvalidArgument, "zero Group"},
	} {
		var err error
		if tc.task != nil {
			err = tc.task.Validate()
		} else {
			err = tc.actor.Validate()
		}
		switch {
		case tc.want == nil && err != nil:
			t.Errorf("%s: unexpected error %v", tc.name, err)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		case tc.want != nil && !strings.Contains(err.Error(), tc.say):
			t.Errorf("%s: %q does not say %q", tc.name, err, tc.say)
		}
	}
}

func TestPlacementGroupHandleCBOR(t *testing.T) {
	g := testGroup(Resources{CPU: 2}, Resources{GPU: 1})
	b, err := Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	var back PlacementGroup
	if err := Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.ID() != g.ID() || back.Name() != "g" || back.Strategy() != StrictPack || back.job != "j1" ||
		len(back.Bundles()) != 2 || back.Bundles()[1][GPU] != 1 {
		t.Fatalf("round trip: %+v, want %+v", back, g)
	}
	bs := g.Bundles()
	bs[0][CPU] = 99
	if g.Bundles()[0][CPU] != 2 {
		t.Fatal("Bundles returned the handle's own maps")
	}
}

func TestPlacementErrorsCrossProcesses(t *testing.T) {
	for _, err := range []error{
		&PlacementGroupRemovedError{Group: `placement group "g" (pg-1, PACK, 1 bundle)`, What: "task t (a.1)"},
		&PlacementError{Group: "placement group (pg-2, STRICT_SPREAD, 2 bundles)", Bundle: AnyBundle, Reason: "one node", Infeasible: true},
		&PlacementError{Group: "placement group (pg-2, PACK, 2 bundles)", Bundle: 3, Reason: "out of range"},
	} {
		back := DecodeError(EncodeError(err))
		for _, s := range []error{ErrPlacementGroupRemoved, ErrPlacement, ErrInfeasible, ErrTimeout} {
			if errors.Is(err, s) != errors.Is(back, s) {
				t.Errorf("%T: errors.Is(_, %v) = %v before, %v after the trip", err, s, errors.Is(err, s), errors.Is(back, s))
			}
		}
		if back.Error() != err.Error() {
			t.Errorf("%T: message %q became %q", err, err, back)
		}
	}
}

// noPGJob is a job context of a backend without placement groups.
type noPGJob struct{ backend.JobContext }

func (noPGJob) JobID() string   { return "j1" }
func (noPGJob) Backend() string { return "fake" }

func TestPlacementUnsupported(t *testing.T) {
	ctx := WithJobContext(context.Background(), noPGJob{})
	_, err := CreatePlacementGroup(ctx, PlacementGroupOptions{Bundles: []Resources{{CPU: 1}}})
	var ue *UnsupportedError
	if !errors.As(err, &ue) || ue.Backend != "fake" || !strings.Contains(err.Error(), "placement groups") {
		t.Fatalf("CreatePlacementGroup on a backend without them: %v, want *UnsupportedError", err)
	}
	if _, err := GetPlacementGroup(ctx, "g", ""); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("GetPlacementGroup: %v", err)
	}
	if err := testGroup(Resources{CPU: 1}).Ready(ctx, time.Second); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Ready: %v", err)
	}
	if err := checkPlacement(noPGJob{}, &PlacementOptions{Group: testGroup(Resources{CPU: 1})}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("checkPlacement: %v", err)
	}
	if err := (PlacementGroup{}).Remove(ctx); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Remove of a zero handle: %v", err)
	}
}
