package ray_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/ray"
)

// OddNameActor is a registered actor class whose name holds characters Ray's tools handle
// badly ("=" splits a state filter): Ray shows it with those replaced by "_".
var OddNameActor = fray.NewActor("raytest.odd=name+x", func(ctx context.Context, _ int) (*Counter, error) {
	return &Counter{all: make(chan struct{})}, nil
})

// TestRayToolsShowFrayNames asks Ray's state API (through the ray CLI of the virtualenv) for
// this job's actors and tasks: actors appear under their fray class (sanitized), tasks
// under their TaskOptions.Name or their registered name, actor calls as <class>.<method>.
func TestRayToolsShowFrayNames(t *testing.T) {
	ns := fmt.Sprintf("raytest-names-%d", time.Now().UnixNano())
	jc, ctx := connect(t, ray.Options{Namespace: ns})
	h, err := CounterActor.Create(ctx, 1, fray.ActorOptions{Name: "named-counter"})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Kill(ctx)
	if v, err := CounterAdd.Call(ctx, h, 1); err != nil || v != 2 {
		t.Fatalf("Add = %d, %v", v, err)
	}
	odd, err := OddNameActor.Create(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer odd.Kill(ctx)
	if v, err := Square.Call(ctx, 3); err != nil || v != 9 {
		t.Fatalf("square = %d, %v", v, err)
	}
	if v, err := Square.Call(ctx, 4, fray.TaskOptions{Name: "square-of-four"}); err != nil || v != 16 {
		t.Fatalf("named square = %d, %v", v, err)
	}

	actors := rayList(t, "actors", "ray_namespace="+ns)
	classes := map[string]string{} // Ray's class_name -> actor name
	for _, a := range actors {
		classes[fmt.Sprint(a["class_name"])] = fmt.Sprint(a["name"])
	}
	if got := classes["raytest.Counter"]; got != "named-counter" {
		t.Errorf("ray list actors: no actor of class raytest.Counter named named-counter; class_name -> name: %v", classes)
	}
	if _, ok := classes["raytest.odd_name_x"]; !ok {
		t.Errorf("ray list actors: no actor of class raytest.odd_name_x (raytest.odd=name+x sanitized); class_name -> name: %v", classes)
	}

	// Ray reports task events to the state API every second or so: poll for them, bounded.
	want := []string{"raytest.square", "square-of-four", "raytest.Counter.Add"}
	var names map[string]bool
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
		names = map[string]bool{}
		for _, task := range rayList(t, "tasks", "job_id="+jc.RayJobID()) {
			names[fmt.Sprint(task["name"])] = true
		}
		missing := false
		for _, w := range want {
			missing = missing || !names[w]
		}
		if !missing || time.Now().After(deadline) {
			break
		}
	}
	for _, w := range want {
		if !names[w] {
			t.Errorf("ray list tasks: no task named %q in job %s; names: %v", w, jc.RayJobID(), names)
		}
	}
}

// rayList runs `ray list <kind> --format json --detail` with the filters, with the ray CLI
// next to the virtualenv's python, against the cluster of RAY_ADDRESS (and its token
// variables, from the environment).
func rayList(t *testing.T, kind string, filters ...string) []map[string]any {
	t.Helper()
	bin := filepath.Join(filepath.Dir(venvPython(t)), "ray")
	args := []string{"list", kind, "--format", "json", "--detail", "--limit", "10000"}
	for _, f := range filters {
		args = append(args, "--filter", f)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "RAY_USAGE_STATS_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, stderr.String())
	}
	var rows []map[string]any
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("%s %s printed no JSON list: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
	return rows
}
