package ray

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fray-go/fray"
)

// infeasibleNodes and infeasibleCases are TestInfeasible's table, which
// TestInfeasibleAgreesWithShim also runs through the worker shim's twin (fray_ray/feasible.py).
var infeasibleNodes = []map[string]float64{
	{"CPU": 4, "memory": 8 << 30, "head_node": 1},
	{"CPU": 16, "GPU": 2, "memory": 64 << 30},
}

var infeasibleCases = []struct {
	name     string
	req      fray.Resources
	resource string // "" = feasible
}{
	{"empty", fray.Resources{}, ""},
	{"zero amounts", fray.Resources{"CPU": 0, "TPU": 0}, ""},
	{"fits first", fray.Resources{"CPU": 4, "head_node": 0.0001}, ""},
	{"fits second", fray.Resources{"CPU": 8, "GPU": 1}, ""},
	{"fractional", fray.Resources{"head_node": 0.5}, ""},
	{"too many CPUs", fray.Resources{"CPU": 17}, "CPU"},
	{"unknown resource", fray.Resources{"TPU": 1}, "TPU"},
	{"GPU beyond any node", fray.Resources{"GPU": 3}, "GPU"},
	{"no node has both", fray.Resources{"GPU": 1, "head_node": 1}, "combination {GPU: 1, head_node: 1}"},
	{"just above capacity", fray.Resources{"head_node": 1.0001}, "head_node"},
}

func TestInfeasible(t *testing.T) {
	nodes := infeasibleNodes
	for _, c := range infeasibleCases {
		t.Run(c.name, func(t *testing.T) {
			err := infeasible(c.req, nodes)
			if c.resource == "" {
				if err != nil {
					t.Fatalf("want feasible, got %v", err)
				}
				return
			}
			var ie *fray.InfeasibleError
			if !errors.As(err, &ie) || !errors.Is(err, fray.ErrInfeasible) || ie.Resource != c.resource {
				t.Fatalf("want *fray.InfeasibleError for %q, got %v", c.resource, err)
			}
		})
	}
	if err := infeasible(fray.Resources{"CPU": 1}, nil); err == nil {
		t.Fatal("no nodes: want infeasible")
	}
}

func TestExtractPython(t *testing.T) {
	cache := t.TempDir()
	d1, err := extractPython(cache)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := extractPython(cache)
	if err != nil || d1 != d2 {
		t.Fatalf("second extraction: %q, %v (first %q)", d2, err, d1)
	}
	for _, f := range []string{"fray_bridge.py", "fray_ray/__init__.py", "fray_ray/proto.py", "fray_ray/core.py", "fray_ray/shim.py"} {
		if _, err := os.Stat(filepath.Join(d1, f)); err != nil {
			t.Fatal(err)
		}
	}
}

// Other builds' copies are removed once unused for staleAfter; recent ones, the current
// one and what is not ours stay.
func TestExtractPythonPrunesStaleCopies(t *testing.T) {
	cache := t.TempDir()
	old := time.Now().Add(-staleAfter - time.Hour)
	mk := func(name string, complete bool, mtime time.Time) string {
		p := filepath.Join(cache, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		target := p
		if complete {
			target = filepath.Join(p, ".complete")
			if err := os.WriteFile(target, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chtimes(target, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := mk("ray-python-0000000000000001", true, old)
	recent := mk("ray-python-0000000000000002", true, time.Now().Add(-time.Hour))
	leftover := mk(".ray-python-123", false, time.Now().Add(-48*time.Hour))
	fresh := mk(".ray-python-456", false, time.Now())
	unrelated := mk("something-else", true, old)
	dir, err := extractPython(cache)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{stale: false, leftover: false, recent: true, fresh: true, unrelated: true, dir: true} {
		_, err := os.Stat(p)
		if got := err == nil; got != want {
			t.Errorf("%s exists = %v, want %v", filepath.Base(p), got, want)
		}
	}
	// using a copy keeps it: its .complete is touched
	mark := filepath.Join(dir, ".complete")
	if err := os.Chtimes(mark, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := extractPython(cache); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(mark); err != nil || time.Since(st.ModTime()) > time.Minute {
		t.Fatalf("using the current copy did not record the use: %v %v", st.ModTime(), err)
	}
}

func TestStageBinary(t *testing.T) {
	cache := t.TempDir()
	bin := filepath.Join(t.TempDir(), "prog")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir, name, err := stageBinary(cache, bin)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, name))
	if err != nil || st.Mode()&0o100 == 0 {
		t.Fatalf("staged binary: %v, %v", st, err)
	}
	if d2, _, err := stageBinary(cache, bin); err != nil || d2 != dir {
		t.Fatalf("restage: %q, %v", d2, err)
	}
}

// TestInfeasibleAgreesWithShim: the worker shim's feasibility check (for nested
// submissions, which never pass the driver) decides TestInfeasible's cases as infeasible does.
func TestInfeasibleAgreesWithShim(t *testing.T) {
	py := Options{}.python()
	if err := exec.Command(py, "-c", "import ray, cbor2").Run(); err != nil {
		t.Fatalf("%s cannot import ray and cbor2 (run scripts/setup-python.sh): %v", py, err)
	}
	dir, err := extractPython(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var in bytes.Buffer
	for _, c := range infeasibleCases {
		line, _ := json.Marshal([]any{c.req, infeasibleNodes})
		in.Write(append(line, '\n'))
	}
	cmd := exec.Command(py, "-c", `
import json, sys, cbor2
from fray_ray import feasible
for line in sys.stdin:
    req, nodes = json.loads(line)
    err = feasible.infeasible(req, nodes)
    print(json.dumps("" if err is None else cbor2.loads(err)["n"]))
`)
	cmd.Dir, cmd.Stdin = dir, &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("shim's check: %v", err)
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(got) != len(infeasibleCases) {
		t.Fatalf("shim answered %d cases, want %d:\n%s", len(got), len(infeasibleCases), out)
	}
	for i, c := range infeasibleCases {
		var res string
		if err := json.Unmarshal([]byte(got[i]), &res); err != nil || res != c.resource {
			t.Errorf("%s: shim says %s, want %q", c.name, got[i], c.resource)
		}
	}
}

// TestPythonErrorMapping checks, without a cluster, that the errors the bridge and shim
// build from Ray's exceptions decode to fray's typed errors in Go.
func TestPythonErrorMapping(t *testing.T) {
	py := Options{}.python()
	if err := exec.Command(py, "-c", "import ray, cbor2").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s cannot import ray and cbor2 (run scripts/setup-python.sh): %v", py, err)
		}
		t.Skipf("%s cannot import ray and cbor2: run scripts/setup-python.sh", py)
	}
	dir, err := extractPython(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-m", "fray_ray.selftest")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("selftest: %v", err)
	}
	want := map[string]error{
		"fray_task_error": fray.ErrTaskFailed, "ray_task_error_wrapping_fray": fray.ErrTaskFailed,
		"ray_task_error_python": fray.ErrTaskFailed, "worker_crashed": fray.ErrWorkerDied,
		"cancelled": fray.ErrCancelled, "actor_died": fray.ErrActorDied, "actor_unavailable": fray.ErrActorDied,
		"object_lost": fray.ErrObjectLost, "owner_died": fray.ErrObjectLost, "get_timeout": fray.ErrTimeout,
		"runtime_env": fray.ErrRuntimeEnv, "runtime_env_pip": fray.ErrRuntimeEnv, "oom": fray.ErrWorkerDied,
		"request_error": fray.ErrInvalidArgument, "task_pg_removed": fray.ErrPlacementGroupRemoved,
		"actor_pg_removed": fray.ErrPlacementGroupRemoved, "bridge_pg_removed": fray.ErrPlacementGroupRemoved,
		"infeasible_resource": fray.ErrInfeasible, "infeasible_combination": fray.ErrInfeasible,
	}
	// The shim's feasibility errors carry the Go check's fields.
	wantInfeasible := map[string]fray.InfeasibleError{
		"infeasible_resource":    {Resource: "node_b", Requested: 0.1},
		"infeasible_combination": {Resource: "combination {CPU: 2, GPU: 1}", Requested: 2, Capacity: 2},
	}
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name, hx, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		b, err := hex.DecodeString(hx)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := fray.DecodeError(b)
		seen++
		if name == "other" {
			if errors.Is(got, fray.ErrSerialization) || !strings.Contains(got.Error(), "something else") {
				t.Errorf("other: %v", got)
			}
			continue
		}
		if !errors.Is(got, want[name]) {
			t.Errorf("%s: decoded %T %v, want %v", name, got, got, want[name])
		}
		if wi, ok := wantInfeasible[name]; ok {
			if ie := (*fray.InfeasibleError)(nil); !errors.As(got, &ie) || *ie != wi {
				t.Errorf("%s: decoded %#v, want %#v", name, got, wi)
			}
		}
	}
	if seen != len(want)+1 {
		t.Fatalf("selftest printed %d cases, want %d:\n%s", seen, len(want)+1, out)
	}
	// Ray's ActorUnavailableError (restarting) keeps that meaning; ActorDiedError does not have it
	for name, restarting := range map[string]bool{"actor_unavailable": true, "actor_died": false} {
		var ad *fray.ActorDiedError
		if err := fray.DecodeError(mustHex(t, out, name)); !errors.As(err, &ad) || ad.Restarting != restarting {
			t.Errorf("%s: %v, want an ActorDiedError with Restarting %v", name, err, restarting)
		}
	}
	// The bridge's own placement-group error names the group as fray's describes it
	wantPG := `fray: task t (x.1) failed: its placement group "g" (ab12, STRICT_PACK, 1 bundle) was removed; create a new group and schedule the work into it`
	if err := fray.DecodeError(mustHex(t, out, "bridge_pg_removed")); err.Error() != wantPG {
		t.Errorf("bridge_pg_removed: %q, want %q", err, wantPG)
	}
	// Ray's runtime-env traceback becomes pip's own lines, on one line
	var re *fray.RuntimeEnvError
	wantPip := "ERROR: Could not find a version that satisfies the requirement fray-no-such-package-xyz==0.0.1 (from versions: none); " +
		"ERROR: No matching distribution found for fray-no-such-package-xyz==0.0.1"
	if err := fray.DecodeError(mustHex(t, out, "runtime_env_pip")); !errors.As(err, &re) || re.Detail != wantPip {
		t.Errorf("pip failure: got %q, want the detail %q", err, wantPip)
	}
	var te *fray.TaskError
	if err := fray.DecodeError(mustHex(t, out, "ray_task_error_wrapping_fray")); !errors.As(err, &te) || te.Message != "fray: task t failed: boom" {
		t.Errorf("a Go task error must come through Ray unchanged, got %v", err)
	}
}

func mustHex(t *testing.T, out []byte, name string) []byte {
	for _, line := range strings.Split(string(out), "\n") {
		if n, hx, ok := strings.Cut(line, " "); ok && n == name {
			b, _ := hex.DecodeString(hx)
			return b
		}
	}
	t.Fatalf("no %s line", name)
	return nil
}
