package wire

import (
	"errors"
	"reflect"
	"testing"

	"github.com/fray-go/fray"
	"github.com/fxamacker/cbor/v2"
)

func TestPlacementRequestsAreNested(t *testing.T) {
	for _, typ := range []Type{TypeCreatePlacementGroup, TypeWaitPlacementGroup, TypeRemovePlacementGroup, TypeGetPlacementGroup} {
		if !typ.Known() || !typ.IsNested() {
			t.Errorf("%v: Known %v, IsNested %v; want both", typ, typ.Known(), typ.IsNested())
		}
	}
	if Type(0x24).IsNested() || Type(0x1F).IsNested() {
		t.Error("a type next to the placement range counts as nested")
	}
}

func TestPlacementSpecRoundTrip(t *testing.T) {
	for _, o := range []fray.PlacementGroupOptions{
		{Bundles: []fray.Resources{{fray.CPU: 1}}},
		{Name: "g", Namespace: "ns", Bundles: []fray.Resources{{fray.CPU: 1}, {fray.GPU: 1, "x": 0.5}}, Strategy: fray.StrictSpread, Lifetime: fray.Detached},
		{Bundles: []fray.Resources{{fray.CPU: 2}}, Strategy: fray.StrictPack},
	} {
		b, err := cbor.Marshal(FromCreatePlacementGroup(fray.PlacementGroupSpec{Options: o}))
		if err != nil {
			t.Fatal(err)
		}
		var m CreatePlacementGroup
		if err := cbor.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		back, err := m.Spec()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back.Options, o) {
			t.Errorf("round trip: %+v, want %+v", back.Options, o)
		}
	}
	for _, bad := range []CreatePlacementGroup{{Strategy: "pack"}, {Strategy: "PACK", Lifetime: "forever"}} {
		if _, err := bad.Spec(); !errors.Is(err, fray.ErrInvalidArgument) {
			t.Errorf("%+v: %v, want an invalid-argument error", bad, err)
		}
	}
}

func TestPlacementOptionsOnTheWire(t *testing.T) {
	g := fray.PlacementGroupFromInfo("j", fray.PlacementGroupInfo{ID: "pg-7", Bundles: []fray.Resources{{fray.CPU: 1}}})
	for _, bundle := range []int{0, 3, fray.AnyBundle} {
		w := FromTaskOptions(fray.TaskOptions{Placement: &fray.PlacementOptions{Group: g, Bundle: bundle}})
		b, err := cbor.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		var back TaskOptions
		if err := cbor.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		p := back.Fray().Placement
		if p == nil || p.Group.ID() != "pg-7" || p.Bundle != bundle {
			t.Errorf("bundle %d: back as %+v", bundle, p)
		}
		a, err := FromActorOptions(fray.ActorOptions{Placement: &fray.PlacementOptions{Group: g, Bundle: bundle}}).Fray()
		if err != nil || a.Placement == nil || a.Placement.Bundle != bundle {
			t.Errorf("actor bundle %d: %+v, %v", bundle, a.Placement, err)
		}
	}
	if FromTaskOptions(fray.TaskOptions{}).Placement != nil || (TaskOptions{}).Fray().Placement != nil {
		t.Error("no placement became one")
	}
	info := fray.PlacementGroupInfo{ID: "pg-1", Name: "n", Namespace: "ns", Strategy: fray.Spread, Bundles: []fray.Resources{{fray.CPU: 1}}}
	if back := FromPlacementGroupInfo(info).Fray(); !reflect.DeepEqual(back, info) {
		t.Errorf("info round trip: %+v, want %+v", back, info)
	}
	if (*PlacementGroupInfo)(nil).Fray().ID != "" {
		t.Error("nil info is not the zero info")
	}
}
