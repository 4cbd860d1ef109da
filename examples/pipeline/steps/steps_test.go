package steps_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/actorpool"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/examples/pipeline/steps"
	"github.com/fray-go/fray/executor"
	"github.com/fray-go/fray/processing/corpus"
	"github.com/fray-go/fray/processing/quality"
	"github.com/fray-go/fray/processing/shards"
	"github.com/fray-go/fray/processing/tokenize"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	fray.Init() // worker processes (MaxCalls 1) run this binary and serve here
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func newJob(t *testing.T) context.Context {
	t.Helper()
	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 2, "head_node": 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = jc.Close() })
	return fray.WithJobContext(context.Background(), jc)
}

var prose = []string{
	"The garbage collector runs concurrently with the program. It reclaims memory that is no longer reachable from any variable. Most programs never need to tune it at all, but the documentation explains how when they do. The runtime reports its work in detail for those who want to look.",
	"Packages are the unit of compilation in Go. Each package has a name and lives in its own directory. The documentation comment describes what the package provides and how to use it well. Readers see that comment first when they browse the package on the web.",
	"This manual page describes the command and its options. It reads its input from the named files or from the standard input. The options below change how the output is formatted and where it goes. Errors are reported on the standard error with a short message.",
}

var code = []string{
	"func main() {\n\tx := map[string]int{}\n\tfor i := 0; i < 10; i++ {\n\t\tx[fmt.Sprint(i)] = i * i\n\t}\n}\n",
	"if err != nil {\n\treturn nil, fmt.Errorf(\"read %s: %w\", name, err)\n}\nbuf = append(buf[:0], b...)\n",
	"type T struct {\n\ta, b int\n\tc []byte\n}\nfunc (t *T) M() int { return t.a + t.b }\n",
}

func docs(texts []string, source string) []steps.Doc {
	out := make([]steps.Doc, len(texts))
	for i, s := range texts {
		out[i] = steps.Doc{ID: fmt.Sprintf("%s:%d", source, i), Source: source, Text: s}
	}
	return out
}

func writeDocs[T any](t *testing.T, dir string, perShard int, recs []T) {
	t.Helper()
	w, err := shards.NewWriter[T](context.Background(), dir, "docs-%05d.jsonl.zst", perShard)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func readDocs[T any](t *testing.T, glob string) []T {
	t.Helper()
	paths, err := shards.Glob(context.Background(), glob)
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	for _, p := range paths {
		for v, err := range shards.Read[T](context.Background(), p) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
	}
	return out
}

func TestTokenizeShardRoundTrips(t *testing.T) {
	ctx := newJob(t)
	dir := t.TempDir()
	in := append(docs(prose, "prose"), docs(code, "code")...)
	writeDocs(t, filepath.Join(dir, "docs"), 4, in)
	sum, err := shards.Run(ctx, steps.TokenizeShard.With(tokenize.Cl100kBase), shards.Spec{
		Input: filepath.Join(dir, "docs", "*.jsonl.zst"), Output: filepath.Join(dir, "tokens"), OutputExt: ".tok", Compression: shards.Plain})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Total != 2 || sum.RecordsIn != 6 || sum.RecordsOut != 6 {
		t.Fatalf("summary %+v", sum)
	}
	tk, _ := tokenize.New(tokenize.Cl100kBase)
	var got []string
	var tokens int64
	for _, p := range sum.Outputs() {
		if !strings.HasSuffix(p, ".tok") {
			t.Fatalf("output %s", p)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		r, err := tokenize.NewShardReader(f)
		if err != nil {
			t.Fatal(err)
		}
		if r.Encoding() != tokenize.Cl100kBase {
			t.Fatalf("encoding %s", r.Encoding())
		}
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			text, err := tk.Decode(rec.Tokens)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, text)
			tokens += int64(len(rec.Tokens))
		}
		f.Close()
	}
	want := append(slices.Clone(prose), code...)
	if !slices.Equal(got, want) {
		t.Fatalf("decoded shards differ from the documents:\n%q\n%q", got, want)
	}
	stats, err := shards.Extras[tokenize.Stats](sum)
	if err != nil || len(stats) != 2 {
		t.Fatalf("extras %v, %v", stats, err)
	}
	var st tokenize.Stats
	for _, s := range stats {
		st.Merge(s)
	}
	if st.Docs != 6 || st.Tokens != tokens {
		t.Fatalf("stats %+v, decoded %d tokens", st, tokens)
	}
}

func TestClassifyScoresWithTheModel(t *testing.T) {
	ctx := newJob(t)
	dir := t.TempDir()
	all := append(docs(prose, "prose"), docs(code, "code")...)
	m, modelPath := trainTinyModel(ctx, t, dir)
	writeDocs(t, filepath.Join(dir, "docs"), 2, all)
	// MaxCalls 1: each shard in a fresh worker process, as the pipeline runs it.
	sum, err := shards.Run(ctx, steps.Classify.With(steps.ClassifyParams{ModelPath: modelPath}), shards.Spec{
		Input: filepath.Join(dir, "docs", "*.jsonl.zst"), Output: filepath.Join(dir, "scored"),
		Options: fray.TaskOptions{MaxCalls: 1, Resources: fray.Resources{"CPU": 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 3 || sum.RecordsOut != 6 {
		t.Fatalf("summary %+v", sum)
	}
	got := readDocs[steps.Scored](t, filepath.Join(dir, "scored", "*.jsonl.zst"))
	if len(got) != len(all) {
		t.Fatalf("%d scored documents", len(got))
	}
	for i, s := range got {
		if s.Doc != all[i] || s.Score != m.Predict(all[i].Text) || s.Heuristic != quality.Label(all[i].Text) {
			t.Fatalf("record %d: %+v", i, s)
		}
	}
	// A missing model fails every shard, naming the file.
	_, err = shards.Run(ctx, steps.Classify.With(steps.ClassifyParams{ModelPath: filepath.Join(dir, "nope.bin")}), shards.Spec{
		Input: filepath.Join(dir, "docs", "*.jsonl.zst"), Output: filepath.Join(dir, "scored2")})
	if err == nil || !strings.Contains(err.Error(), "nope.bin") {
		t.Fatalf("missing model: %v", err)
	}
}

// TestClassifyOnPool: batch inference on a pool of Classifier actors gives the scores the
// model gives, in input order, and a missing model is reported (every actor's
// constructor fails) after the bounded replacements, naming the file.
func TestClassifyOnPool(t *testing.T) {
	ctx := newJob(t)
	dir := t.TempDir()
	all := append(docs(prose, "prose"), docs(code, "code")...)
	m, modelPath := trainTinyModel(ctx, t, dir)
	writeDocs(t, filepath.Join(dir, "docs"), 3, all)
	spec := shards.BatchSpec{Spec: shards.Spec{Input: filepath.Join(dir, "docs", "*.jsonl.zst"), Output: filepath.Join(dir, "scored")}, BatchSize: 2}
	sum, err := steps.ClassifyOnPool(ctx, steps.ClassifyParams{ModelPath: modelPath}, 2, spec)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 2 || sum.RecordsOut != int64(len(all)) {
		t.Fatalf("summary %s", sum)
	}
	got := readDocs[steps.Scored](t, filepath.Join(dir, "scored", "*.jsonl.zst"))
	if len(got) != len(all) {
		t.Fatalf("%d scored documents", len(got))
	}
	for i, s := range got {
		if s.Doc != all[i] || s.Score != m.Predict(all[i].Text) || s.Heuristic != quality.Label(all[i].Text) {
			t.Fatalf("record %d: %+v", i, s)
		}
	}
	spec.Output = filepath.Join(dir, "scored2")
	_, err = steps.ClassifyOnPool(ctx, steps.ClassifyParams{ModelPath: filepath.Join(dir, "nope.bin")}, 1, spec)
	if !errors.Is(err, actorpool.ErrNoActors) && !errors.Is(err, actorpool.ErrRetriesExhausted) || !strings.Contains(err.Error(), "nope.bin") {
		t.Fatalf("missing model: %v; want the pool's exhaustion error naming the file", err)
	}
}

func TestKeepFiltersByThreshold(t *testing.T) {
	ctx := newJob(t)
	dir := t.TempDir()
	var in []steps.Scored
	for i, s := range []float64{0.1, 0.5, 0.49999, 0.9, 1} {
		in = append(in, steps.Scored{Doc: steps.Doc{ID: fmt.Sprint(i), Text: "t"}, Score: s})
	}
	writeDocs(t, filepath.Join(dir, "scored"), 10, in)
	for _, c := range []struct {
		threshold float64
		want      []string
	}{{0.5, []string{"1", "3", "4"}}, {0, []string{"0", "1", "2", "3", "4"}}, {1.01, nil}} {
		out := filepath.Join(dir, fmt.Sprint("kept", c.threshold))
		sum, err := shards.Run(ctx, steps.Keep.With(c.threshold), shards.Spec{Input: filepath.Join(dir, "scored", "*.jsonl.zst"), Output: out})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, d := range readDocs[steps.Doc](t, filepath.Join(out, "*.jsonl.zst")) {
			ids = append(ids, d.ID)
		}
		if !slices.Equal(ids, c.want) || sum.RecordsOut != int64(len(c.want)) {
			t.Errorf("threshold %g kept %v (%d), want %v", c.threshold, ids, sum.RecordsOut, c.want)
		}
	}
}

func TestIngestSharesTheQuota(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	err := steps.Ingest(ctx, steps.IngestConfig{
		Output:       executor.LiteralPath(dir),
		MaxDocs:      executor.Versioned(10),
		DocsPerShard: executor.Versioned(3),
		MaxTextBytes: executor.Versioned(4096),
		Sources:      executor.Versioned([]string{corpus.SourceGoDoc, corpus.SourcePackageDoc}),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := readDocs[steps.Doc](t, filepath.Join(dir, "docs", "*.jsonl.zst"))
	bySource := map[string]int{}
	for _, d := range got {
		bySource[d.Source]++
		if len(d.Text) > 4096 || d.ID == "" {
			t.Fatalf("document %s: %d bytes", d.ID, len(d.Text))
		}
	}
	// Ten documents over two sources: five each (go-doc has more than five files).
	if len(got) != 10 || bySource[corpus.SourceGoDoc] != 5 || bySource[corpus.SourcePackageDoc] != 5 {
		t.Fatalf("ingested %d documents: %v", len(got), bySource)
	}
	paths, _ := shards.Glob(ctx, filepath.Join(dir, "docs", "*"))
	if len(paths) != 4 {
		t.Fatalf("shards %v", paths)
	}
	b, err := os.ReadFile(filepath.Join(dir, steps.SummaryFile))
	var sum steps.StepSummary
	if err == nil {
		err = json.Unmarshal(b, &sum)
	}
	// The ingest reads no documents, so it records none in, only out and the text bytes.
	if _, hasIn := sum.Figures[steps.FigDocsIn]; err != nil || sum.Figures[steps.FigDocsOut] != 10 || sum.Figures[steps.FigBytes] == 0 || hasIn {
		t.Fatalf("summary %s, %v", b, err)
	}
}

func TestTrainModelHoldsOut(t *testing.T) {
	ctx := context.Background()
	var all []steps.Doc
	for i := range 40 {
		all = append(all, steps.Doc{ID: fmt.Sprint("p", i), Text: prose[i%len(prose)]})
		all = append(all, steps.Doc{ID: fmt.Sprint("c", i), Text: code[i%len(code)]})
	}
	m1, met, err := steps.TrainModel(ctx, all, 0.25, 3, 7)
	if err != nil {
		t.Fatal(err)
	}
	if met.Train.N+met.Test.N != len(all) || met.Test.N == 0 || met.Docs != len(all) {
		t.Fatalf("split %d + %d of %d", met.Train.N, met.Test.N, len(all))
	}
	if met.LabelPositiveRate != 0.5 {
		t.Fatalf("label positive rate %v, want 0.5 (the prose texts pass quality.Label, the code does not)", met.LabelPositiveRate)
	}
	// Same seed, same model.
	m2, _, _ := steps.TrainModel(ctx, all, 0.25, 3, 7)
	if m1.Bias != m2.Bias || !slices.Equal(m1.Weights, m2.Weights) {
		t.Fatal("training is not deterministic")
	}
	if _, _, err := steps.TrainModel(ctx, all[:1], 0.25, 3, 7); err == nil {
		t.Fatal("one document: no error")
	}
}

// TestPickSamples checks that the samples span each group: its highest and lowest scores
// and one between, in a stable order.
func TestPickSamples(t *testing.T) {
	var scored []steps.ScoreRecord
	for i := range 11 {
		scored = append(scored, steps.ScoreRecord{ID: fmt.Sprintf("d%02d", i), Score: float64(i) / 10})
	}
	var got []string
	for _, s := range steps.PickSamples(scored, 0.45, 3) {
		got = append(got, fmt.Sprintf("%s %.1f %v", s.ID, s.Score, s.Kept))
	}
	want := []string{"d10 1.0 true", "d08 0.8 true", "d05 0.5 true", "d04 0.4 false", "d02 0.2 false", "d00 0.0 false"}
	if !slices.Equal(got, want) {
		t.Errorf("samples %v, want %v", got, want)
	}
}

func TestBuildReport(t *testing.T) {
	sec := time.Second
	sums := []steps.StepSummary{
		{Step: "ingest", Duration: 2 * sec, Figures: map[string]int64{steps.FigDocsOut: 4, steps.FigBytes: 2500}},
		{Step: "train-quality", Duration: sec, Figures: map[string]int64{steps.FigDocsIn: 4}},
		{Step: "filter", Duration: sec, Figures: map[string]int64{steps.FigDocsIn: 4, steps.FigDocsOut: 2, steps.FigKept: 2, steps.FigDropped: 2}},
	}
	outputs := []string{"/p/pipeline/ingest-aaaaaa", "/other/train-quality-bbbbbb", "gs://b/pipeline/filter-cccccc"}
	scored := []steps.ScoreRecord{{ID: "m1", Source: "man", Score: 0.9, Heuristic: true}, {ID: "m2", Source: "man", Score: 0.6, Heuristic: false},
		{ID: "g1", Source: "go-src", Score: 0.1}, {ID: "g2", Source: "go-src", Score: 0.55, Heuristic: true}}
	r := steps.BuildReport(sums, outputs, steps.TokenStats{Encoding: "cl100k_base"}, steps.TrainMetrics{Docs: 4}, scored, 0.58, "/p/pipeline/report-dddddd")
	if len(r.Steps) != 3 {
		t.Fatalf("steps %+v", r.Steps)
	}
	// Each row has the figures that apply to its step and nothing else: the train step keeps
	// and drops nothing (the old report showed "Kept % 0.1" for it: 1 model out of 4 docs in).
	for i, want := range []map[string]string{
		{"docs out": "4", "text bytes": "2.5 kB", "docs/s": "2"},
		{"docs in": "4", "docs/s": "4"},
		{"docs in": "4", "docs out": "2", "kept": "2 (50.0%)", "dropped": "2 (50.0%)", "docs/s": "4"},
	} {
		if got := r.Steps[i].Figures; !maps.Equal(got, want) {
			t.Errorf("%s: figures %v, want %v", r.Steps[i].Name, got, want)
		}
	}
	// Outputs next to the report are linked relatively, other local ones by absolute path;
	// bucket URLs are named, not linked.
	for i, want := range [][2]string{{"ingest-aaaaaa/", "../ingest-aaaaaa/"}, {"/other/train-quality-bbbbbb/", "/other/train-quality-bbbbbb/"}, {"gs://b/pipeline/filter-cccccc", ""}} {
		if got := [2]string{r.Steps[i].Output, r.Steps[i].Href}; got != want {
			t.Errorf("%s: output link %q, want %q", r.Steps[i].Name, got, want)
		}
	}
	// Samples: kept (score ≥ 0.58) then dropped, each from the highest score down.
	var ids []string
	for _, s := range r.Samples {
		ids = append(ids, fmt.Sprintf("%s:%v", s.ID, s.Kept))
	}
	if want := []string{"m1:true", "m2:true", "g2:false", "g1:false"}; !slices.Equal(ids, want) {
		t.Errorf("samples %v, want %v", ids, want)
	}
	if r.KeptRule != "score ≥ 0.58" || r.DroppedRule != "score < 0.58" {
		t.Errorf("sample rules %q, %q", r.KeptRule, r.DroppedRule)
	}
	metrics := map[string]string{}
	for _, m := range r.Metrics {
		metrics[m.Name] = m.Value
	}
	for name, want := range map[string]string{
		"threshold":                            "0.58: keeps 2 of 4 documents (50.0%)",
		"kept from man":                        "2 of 2 (100.0%)",
		"kept from go-src":                     "0 of 2 (0.0%)",
		"classifier agrees with the heuristic": "75.0% of all documents (training ones included)",
	} {
		if metrics[name] != want {
			t.Errorf("%s = %q, want %q", name, metrics[name], want)
		}
	}
}

// trainTinyModel trains a model on one prose and one code example and saves it in dir;
// the classify tests score with it.
func trainTinyModel(ctx context.Context, t *testing.T, dir string) (*quality.Model, string) {
	t.Helper()
	m, err := quality.Train(ctx, []quality.Example{{Text: prose[0], Label: true}, {Text: code[0], Label: false}}, quality.TrainOptions{Seed: 1, Bits: 12})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	modelPath := filepath.Join(dir, "model.bin")
	if err := os.WriteFile(modelPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return m, modelPath
}
