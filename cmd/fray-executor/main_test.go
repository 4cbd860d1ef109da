package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/executor"
	"github.com/fray-go/fray/executor/cli"
)

func TestMain(m *testing.M) {
	fray.Init() // steps with FRAY_PREFIX in their environment run in worker processes
	os.Exit(m.Run())
}

// TestPipeline runs MIGRATION.md's pattern 7 example through its command line twice: the
// first run produces the statistics, the second skips every step as already successful.
func TestPipeline(t *testing.T) {
	prefix := t.TempDir()
	for run := 1; run <= 2; run++ {
		cmd := cli.NewCommand(Pipeline()...)
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs([]string{"--prefix", prefix})
		if err := cmd.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, out.String())
		}
	}
	plan, err := executor.Plan(prefix, Pipeline()...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range plan {
		out[s.Name] = s.OutputPath
		if len(s.Pseudo) > 0 && s.Name != "demo/stats" {
			t.Errorf("%s has pseudo-dependencies %v", s.Name, s.Pseudo)
		}
	}
	b, err := os.ReadFile(filepath.Join(out["demo/stats"], "stats.json"))
	if err != nil {
		t.Fatal(err)
	}
	var stats struct {
		Count           int `json:"count"`
		Sum             int `json:"sum_of_squares"`
		Numbers, Prefix string
	}
	if err := json.Unmarshal(b, &stats); err != nil {
		t.Fatal(err)
	}
	// 1² + ... + 1000² = 1000·1001·2001/6.
	if stats.Count != 1000 || stats.Sum != 333833500 || stats.Numbers != out["demo/numbers"] || stats.Prefix != prefix {
		t.Errorf("stats.json = %s", b)
	}
	for name, dir := range out {
		data, err := os.ReadFile(filepath.Join(dir, executor.StatusFileName))
		if err != nil {
			t.Fatal(err)
		}
		evs, err := executor.ParseEvents(name, data)
		if err != nil {
			t.Fatal(err)
		}
		if last := evs[len(evs)-1]; last.Status != executor.StatusSuccess || last.Message != "Step was already successful" {
			t.Errorf("%s: last event after the second run %+v, want a skip", name, last)
		}
	}
	if recs, _ := filepath.Glob(filepath.Join(prefix, "experiments", "*.json")); len(recs) != 1 {
		t.Errorf("experiment records %v, want one", recs)
	}
}
