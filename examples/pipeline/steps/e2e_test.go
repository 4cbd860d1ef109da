package steps_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/ray"
	"github.com/fray-go/fray/examples/pipeline/steps"
	"github.com/fray-go/fray/executor"
	"github.com/fray-go/fray/internal/raytest"
)

// smallConfig is the pipeline at test size: 80 documents in shards of 20.
func smallConfig() steps.Config {
	c := steps.DefaultConfig()
	c.MaxDocs = 80
	c.DocsPerShard = 20
	c.MaxTextBytes = 8 << 10
	return c
}

func quietLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func runPipeline(t *testing.T, ctx context.Context, prefix string, cfg steps.Config) (*steps.Pipeline, map[string]executor.StepReport) {
	t.Helper()
	p := steps.New(cfg)
	rep, err := executor.Run(ctx, executor.Options{Prefix: prefix, Logger: quietLogger(t)}, p.Steps()...)
	if err != nil {
		t.Fatalf("pipeline run: %v", err)
	}
	out := map[string]executor.StepReport{}
	for _, s := range rep.Steps {
		out[s.Name] = s
	}
	if len(out) != 6 {
		t.Fatalf("%d steps in the report, want 6", len(out))
	}
	return p, out
}

// wantStates checks every step's state: those in ran succeeded in this run, the others were
// skipped as already successful.
func wantStates(t *testing.T, run string, got map[string]executor.StepReport, ran ...string) {
	t.Helper()
	for name, s := range got {
		want := executor.StateSkipped
		for _, r := range ran {
			if r == name {
				want = executor.StateSucceeded
			}
		}
		if s.State != want {
			t.Errorf("%s: step %s is %s, want %s (%s)", run, name, s.State, want, s.Error)
		}
	}
}

var allSteps = []string{steps.IngestName, steps.TokenizeName, steps.TrainName, steps.ClassifyName, steps.FilterName, steps.ReportName}

// checkPipeline runs the pipeline three times on the job context in ctx: from scratch (every
// step runs), unchanged (every step is skipped), and with another threshold (only filter and
// report run).
func checkPipeline(t *testing.T, ctx context.Context, prefix string) {
	cfg := smallConfig()
	p, first := runPipeline(t, ctx, prefix, cfg)
	wantStates(t, "first run", first, allSteps...)
	statuses, err := executor.ListStatuses(ctx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(statuses) != 6 {
		t.Fatalf("%d status files under the prefix", len(statuses))
	}
	for _, s := range statuses {
		if s.Status != executor.StatusSuccess {
			t.Errorf("%s: %s", s.Name, s.Status)
		}
	}
	reportPath, err := p.ReportPath(prefix)
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(reportPath)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	for _, want := range []string{"held-out accuracy", "tokenize", "classify", "data:image/png;base64,",
		"Kept documents (score ≥ 0.5)", "Dropped documents (score &lt; 0.5)", "2-fold cross-validation accuracy", "STRICT_PACK"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// The train step cross-validated with its fold workers gang-scheduled in a placement
	// group (one bundle per fold), each fold scored on its own held-out part.
	var met steps.TrainMetrics
	if b, err := os.ReadFile(filepath.Join(first[steps.TrainName].OutputPath, steps.MetricsFile)); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(b, &met); err != nil {
		t.Fatal(err)
	}
	if cv := met.CrossValidation; cv == nil || cv.Folds != 2 || len(cv.Accuracy) != 2 || !strings.Contains(cv.PlacementGroup, "STRICT_PACK, 2 bundles") {
		t.Errorf("train metrics: cross-validation %+v", met.CrossValidation)
	}
	// Every step's row links its output directory, relative to the report, and the link
	// leads to that directory.
	for _, name := range allSteps {
		out := first[name].OutputPath
		href := "../" + filepath.Base(out) + "/"
		if name == steps.ReportName {
			href = "./"
		}
		if !strings.Contains(string(html), `href="`+href+`"`) {
			t.Errorf("report does not link %s's output as %s", name, href)
		}
		if st, err := os.Stat(filepath.Join(filepath.Dir(reportPath), href)); err != nil || !st.IsDir() || filepath.Join(filepath.Dir(reportPath), href) != out {
			t.Errorf("link %s from the report does not lead to %s: %v", href, out, err)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(reportPath), steps.HistogramPNG)); err != nil {
		t.Error(err)
	}
	// 80 documents in shards of 20: four scored shards, and the kept documents are a subset.
	scored, _ := filepath.Glob(filepath.Join(first[steps.ClassifyName].OutputPath, steps.ScoredDir, "*.jsonl.zst"))
	if len(scored) != 4 {
		t.Errorf("scored shards %v", scored)
	}
	kept := readDocs[steps.Doc](t, filepath.Join(first[steps.FilterName].OutputPath, steps.KeptDir, "*.jsonl.zst"))
	if len(kept) == 0 || len(kept) >= 80 {
		t.Errorf("the filter kept %d of 80 documents", len(kept))
	}

	_, second := runPipeline(t, ctx, prefix, cfg)
	wantStates(t, "unchanged rerun", second)

	cfg.Threshold = 0.8
	_, third := runPipeline(t, ctx, prefix, cfg)
	wantStates(t, "threshold change", third, steps.FilterName, steps.ReportName)
	for _, name := range []string{steps.FilterName, steps.ReportName} {
		if third[name].OutputPath == first[name].OutputPath {
			t.Errorf("%s: same output path after the threshold changed", name)
		}
	}
	for _, name := range []string{steps.IngestName, steps.TokenizeName, steps.TrainName, steps.ClassifyName} {
		if third[name].OutputPath != first[name].OutputPath {
			t.Errorf("%s: output path changed with the threshold", name)
		}
	}
	kept8 := readDocs[steps.Doc](t, filepath.Join(third[steps.FilterName].OutputPath, steps.KeptDir, "*.jsonl.zst"))
	if len(kept8) > len(kept) {
		t.Errorf("threshold 0.8 kept %d documents, threshold 0.5 kept %d", len(kept8), len(kept))
	}
}

func TestPipelineLocal(t *testing.T) {
	ctx := newJob(t)
	checkPipeline(t, ctx, t.TempDir())
}

// rayAddress gates the Ray test like every Ray test (internal/raytest).
func rayAddress(t *testing.T) string { return raytest.Address(t) }

func TestPipelineRay(t *testing.T) {
	addr := rayAddress(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	jc, err := ray.Connect(ctx, ray.Options{Address: addr, Namespace: executor.StatusActorNamespace, Logger: quietLogger(t)})
	if err != nil {
		t.Fatalf("ray.Connect: %v", err)
	}
	defer jc.Close()
	ctx = fray.WithJobContext(ctx, jc)
	// The executor's StatusActor is detached, so it outlives this job. Kill it afterwards if
	// this test created it (and leave one that was there before, which others may be using).
	if _, err := executor.StatusActorClass.Lookup(ctx, executor.StatusActorName, executor.StatusActorNamespace); err != nil {
		defer func() {
			h, err := executor.StatusActorClass.Lookup(ctx, executor.StatusActorName, executor.StatusActorNamespace)
			if err == nil {
				err = h.Kill(ctx)
			}
			if err != nil {
				t.Logf("StatusActor left on the cluster: %v", err)
			}
		}()
	}
	// The prefix must be visible to the Ray workers: on a one-machine cluster a local
	// directory is.
	checkPipeline(t, ctx, t.TempDir())
}
