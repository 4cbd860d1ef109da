package wire

import (
	"errors"
	"reflect"
	"testing"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
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
	for _, spec := range []backend.PlacementGroupSpec{
		{Bundles: []map[string]float64{{"CPU": 1}}, Strategy: "PACK"},
		{Name: "g", Namespace: "ns", Bundles: []map[string]float64{{"CPU": 1}, {"GPU": 1, "x": 0.5}}, Strategy: "STRICT_SPREAD", Detached: true},
		{Bundles: []map[string]float64{{"CPU": 2}}, Strategy: "STRICT_PACK"},
	} {
		b, err := cbor.Marshal(FromCreatePlacementGroup(spec))
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
		if !reflect.DeepEqual(back, spec) {
			t.Errorf("round trip: %+v, want %+v", back, spec)
		}
	}
	for _, bad := range []CreatePlacementGroup{{Strategy: "pack"}, {Strategy: "PACK", Lifetime: "forever"}} {
		if _, err := bad.Spec(); !errors.Is(err, fray.ErrInvalidArgument) {
			t.Errorf("%+v: %v, want an invalid-argument error", bad, err)
		}
	}
}

func TestPlacementOptionsOnTheWire(t *testing.T) {
	for _, index := range []int{0, 3, backend.AnyBundle} {
		bundle := &backend.Bundle{Group: "pg-7", Index: index}
		w := FromTaskOptions(backend.TaskOptions{Resources: map[string]float64{"CPU": 1}, Bundle: bundle})
		b, err := cbor.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		var back TaskOptions
		if err := cbor.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if got := back.Backend().Bundle; got == nil || *got != *bundle {
			t.Errorf("task bundle %d: back as %+v", index, got)
		}
		a, err := FromActorOptions(backend.ActorOptions{Bundle: bundle}).Backend()
		if err != nil || a.Bundle == nil || *a.Bundle != *bundle {
			t.Errorf("actor bundle %d: %+v, %v", index, a.Bundle, err)
		}
	}
	if FromTaskOptions(backend.TaskOptions{}).Placement != nil || (TaskOptions{}).Backend().Bundle != nil {
		t.Error("no placement became one")
	}
	info := backend.PlacementGroupInfo{ID: "pg-1", Name: "n", Namespace: "ns", Strategy: "SPREAD", Bundles: []map[string]float64{{"CPU": 1}}}
	if back := FromPlacementGroupInfo(info).Backend(); !reflect.DeepEqual(back, info) {
		t.Errorf("info round trip: %+v, want %+v", back, info)
	}
	if (*PlacementGroupInfo)(nil).Backend().ID != "" {
		t.Error("nil info is not the zero info")
	}
}
