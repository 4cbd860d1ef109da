package ray_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/ray"
)

// TestPlacementGroupInRayStateAPI: a fray placement group is Ray's own, so Ray's state API
// (what `ray list placement-groups` prints) lists it under its name, with its strategy and
// lifetime, and shows it removed after Remove.
func TestPlacementGroupInRayStateAPI(t *testing.T) {
	py := os.Getenv("FRAY_PYTHON")
	if py == "" {
		t.Fatal("FRAY_PYTHON is not set: point it at the virtualenv's python (scripts/test.sh does)")
	}
	_, ctx := connect(t, ray.Options{})
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "fray-pg-state-" + hex.EncodeToString(b[:])
	g, err := fray.CreatePlacementGroup(ctx, fray.PlacementGroupOptions{Name: name, Strategy: fray.StrictPack,
		Bundles: []fray.Resources{{fray.CPU: 0.25}, {fray.CPU: 0.25}}, Lifetime: fray.Detached})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Remove(context.WithoutCancel(ctx)) })
	if err := g.Ready(ctx, fray.Forever); err != nil {
		t.Fatal(err)
	}
	row := stateRow(t, ctx, py, name)
	t.Logf("state API: %v", row)
	if row["placement_group_id"] != string(g.ID()) || row["state"] != "CREATED" || row["is_detached"] != true {
		t.Fatalf("state API row for %s: %v; want id %s, CREATED, detached", name, row, g.ID())
	}
	if s, _ := row["strategy"].(string); s != "" && s != "STRICT_PACK" {
		t.Errorf("state API strategy %q, want STRICT_PACK", s)
	}
	if err := g.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		row = stateRow(t, ctx, py, name)
		if row["state"] == "REMOVED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state API still shows %v a minute after Remove", row)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stateRow returns the state API's detailed row of the placement group named name.
func stateRow(t *testing.T, ctx context.Context, py, name string) map[string]any {
	t.Helper()
	script := `import json, sys
from ray.util.state import list_placement_groups
rows = list_placement_groups(filters=[("name", "=", sys.argv[1])], detail=True, raise_on_missing_output=False)
print(json.dumps([r if isinstance(r, dict) else r.__dict__ for r in rows], default=str))`
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, py, "-c", script, name)
	cmd.Dir = filepath.Dir(py)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("state API: %v\n%s", err, stderr)
	}
	var rows []map[string]any
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("state API output %q: %v", out, err)
	}
	if len(rows) != 1 {
		t.Fatalf("state API lists %d placement groups named %s, want 1: %s", len(rows), name, out)
	}
	return rows[0]
}

// BenchmarkPlacementGroupCreateRemove is Ray's microbenchmark row "placement group
// create/removal" through fray on Ray: create a one-bundle group, wait until it is ready,
// remove it.
func BenchmarkPlacementGroupCreateRemove(b *testing.B) {
	_, ctx := connect(b, ray.Options{})
	opts := fray.PlacementGroupOptions{Bundles: []fray.Resources{{fray.CPU: 0.01}}}
	for b.Loop() {
		g, err := fray.CreatePlacementGroup(ctx, opts)
		if err != nil {
			b.Fatal(err)
		}
		if err := g.Ready(ctx, fray.Forever); err != nil {
			b.Fatal(err)
		}
		if err := g.Remove(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "groups/s")
}
