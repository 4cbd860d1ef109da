package steps

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/actorpool"
	"github.com/fray-go/fray/executor"
	"github.com/fray-go/fray/processing/corpus"
	"github.com/fray-go/fray/processing/quality"
	"github.com/fray-go/fray/processing/report"
	"github.com/fray-go/fray/processing/shards"
	"github.com/fray-go/fray/processing/tokenize"
)

// ---- ingest ------------------------------------------------------------------------------

// IngestConfig configures the ingest step.
type IngestConfig struct {
	Output       executor.Path
	MaxDocs      executor.Value[int]
	DocsPerShard executor.Value[int]
	MaxTextBytes executor.Value[int]
	Sources      executor.Value[[]string]
	GoVersion    executor.Value[string]
}

// IngestFn reads the corpus into JSONL shards.
var IngestFn = executor.NewStepFn("pipeline.ingest", Ingest)

// Ingest walks the corpus sources in order, giving each an equal share of MaxDocs (a source
// with fewer documents leaves the rest to the sources after it), and writes the documents
// into zstd JSONL shards of DocsPerShard documents under <Output>/docs.
func Ingest(ctx context.Context, c IngestConfig) error {
	start := time.Now()
	w, err := shards.NewWriter[Doc](ctx, c.Output.Join(DocsDir), docsPattern, c.DocsPerShard.Get())
	if err != nil {
		return err
	}
	srcs := c.Sources.Get()
	perSource := map[string]float64{}
	var textBytes int64
	for i, src := range srcs {
		limit := 0
		if total := c.MaxDocs.Get(); total > 0 {
			left := total - int(w.Count())
			if left <= 0 {
				break
			}
			limit = (left + len(srcs) - i - 1) / (len(srcs) - i) // ceil(left / sources left)
		}
		err := corpus.Walk(ctx, corpus.Options{Sources: []string{src}, MaxPerSource: limit, MaxTextBytes: c.MaxTextBytes.Get()},
			func(d corpus.Document) error {
				perSource["docs_"+src]++
				textBytes += int64(len(d.Text))
				return w.Write(Doc{ID: d.ID, Source: d.Source, Title: d.Title, Text: d.Text})
			})
		if err != nil {
			w.Abort()
			return fmt.Errorf("ingest %s: %w", src, err)
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	if w.Count() == 0 {
		return fmt.Errorf("ingest: the corpus is empty (sources %v, Go root %s)", srcs, corpus.GoRoot())
	}
	var parts []string
	for _, src := range srcs {
		parts = append(parts, fmt.Sprintf("%s %d", src, int(perSource["docs_"+src])))
	}
	return writeJSON(ctx, c.Output.Join(SummaryFile), StepSummary{
		Step: "ingest", Duration: time.Since(start), Finished: time.Now().UTC(),
		Figures: map[string]int64{FigDocsOut: w.Count(), FigBytes: textBytes},
		Note:    fmt.Sprintf("%d shards; %s", len(w.Shards()), strings.Join(parts, ", ")),
		Metrics: perSource,
	})
}

// ---- tokenize ----------------------------------------------------------------------------

// TokenizeConfig configures the tokenize step.
type TokenizeConfig struct {
	Docs     executor.Path
	Output   executor.Path
	Encoding executor.Value[string]
	CPUs     float64 // per shard task; not versioned
	// Resources are custom resources each shard task requests beside CPUs (Config's
	// ShardResources); not versioned.
	Resources fray.Resources
	Progress  bool
}

// TokenStats is the tokenize step's stats.json.
type TokenStats struct {
	Encoding string `json:"encoding"`
	Shards   int    `json:"shards"`
	tokenize.Stats
	TokensPerDoc  float64 `json:"tokens_per_doc"`
	BytesPerToken float64 `json:"bytes_per_token"`
}

// TokenizeShard encodes the documents of one shard with the BPE encoding it is given and
// writes them as a token shard (processing/tokenize's format), returning the shard's stats.
var TokenizeShard = shards.NewShardFunc("pipeline.tokenize_shard", func(ctx context.Context, sh *shards.Shard, encoding string) (tokenize.Stats, error) {
	var st tokenize.Stats
	tk, err := tokenize.New(encoding)
	if err != nil {
		return st, err
	}
	w, err := sh.Create(ctx)
	if err != nil {
		return st, err
	}
	sw, err := tokenize.NewShardWriter(w, encoding)
	if err != nil {
		return st, err
	}
	for d, err := range shards.Records[Doc](ctx, sh) {
		if err != nil {
			return st, err
		}
		rec, err := TokenizeDoc(tk, d)
		if err != nil {
			return st, err
		}
		if err := sw.Write(rec); err != nil {
			return st, err
		}
		st.Add(len(d.Text), len(rec.Tokens))
		sh.CountOut(1)
	}
	return st, sw.Close()
})

// TokenizeDoc encodes one document.
func TokenizeDoc(tk *tokenize.Tokenizer, d Doc) (tokenize.Record, error) {
	ids, err := tk.Encode(d.Text)
	if err != nil {
		return tokenize.Record{}, fmt.Errorf("document %s: %w", d.ID, err)
	}
	return tokenize.Record{ID: d.ID, Tokens: ids}, nil
}

// TokenizeFn is the tokenize step.
var TokenizeFn = executor.NewStepFn("pipeline.tokenize", Tokenize)

// Tokenize runs TokenizeShard over the ingested shards, one fray task per shard, and writes
// the merged token statistics.
func Tokenize(ctx context.Context, c TokenizeConfig) error {
	start := time.Now()
	pw := progress(c.Progress)
	sum, err := shards.Run(ctx, TokenizeShard.With(c.Encoding.Get()), shards.Spec{
		Name:        "tokenize",
		Input:       c.Docs.Join(DocsDir, shardGlob),
		Output:      c.Output.Join(TokensDir),
		OutputExt:   ".tok",
		Compression: shards.Plain,
		Options:     shardOptions(c.CPUs, 0, c.Resources),
		Progress:    pw,
	})
	logSummary(pw, sum)
	if err != nil {
		return nameShardFlag("tokenize", err, c.Resources)
	}
	per, err := shards.Extras[tokenize.Stats](sum)
	if err != nil {
		return err
	}
	var st tokenize.Stats
	for _, s := range per {
		st.Merge(s)
	}
	ts := TokenStats{Encoding: c.Encoding.Get(), Shards: sum.Total, Stats: st, TokensPerDoc: st.TokensPerDoc(), BytesPerToken: st.BytesPerToken()}
	if err := writeJSON(ctx, c.Output.Join(StatsFile), ts); err != nil {
		return err
	}
	return writeJSON(ctx, c.Output.Join(SummaryFile), StepSummary{
		Step: "tokenize", Duration: time.Since(start), Finished: time.Now().UTC(),
		Figures: map[string]int64{FigDocsIn: sum.RecordsIn, FigTokens: int64(st.Tokens), FigBytes: int64(st.Bytes)},
		Note: fmt.Sprintf("%s: %.1f tokens/doc, %.2f bytes/token; %d token shards (%d skipped)",
			ts.Encoding, ts.TokensPerDoc, ts.BytesPerToken, sum.Total, sum.Skipped),
		Metrics: map[string]float64{"tokens": float64(st.Tokens), "bytes": float64(st.Bytes)},
	})
}

// ---- train -------------------------------------------------------------------------------

// TrainConfig configures the train step.
type TrainConfig struct {
	Docs         executor.Path
	Output       executor.Path
	TestFraction executor.Value[float64]
	Epochs       executor.Value[int]
	Seed         executor.Value[uint64]
	// CVFolds > 1 also cross-validates the classifier with that many fold workers,
	// gang-scheduled in a STRICT_PACK placement group (crossval.go); 0 or 1: none.
	CVFolds executor.Value[int]
	// CVCPUs is each fold worker's bundle (default 1 CPU).
	CVCPUs float64
}

// TrainMetrics is the train step's metrics.json.
type TrainMetrics struct {
	Train, Test quality.Metrics
	// MajorityAccuracy is the held-out accuracy of always predicting the more common label
	// of the training set: the number the classifier has to beat.
	MajorityAccuracy float64
	// LabelPositiveRate is the fraction of all documents the heuristic labels good.
	LabelPositiveRate float64
	Docs              int
	// CrossValidation is the folds' accuracy when the step cross-validated (CVFolds > 1).
	CrossValidation *CrossValidation `json:",omitempty"`
}

// TrainFn is the train step.
var TrainFn = executor.NewStepFn("pipeline.train_quality", Train)

// Train labels every document with quality.Label, holds out TestFraction of them (by
// document id, so the split is stable), trains the classifier on the rest and evaluates it
// on the held-out part. It writes model.bin and metrics.json.
func Train(ctx context.Context, c TrainConfig) error {
	start := time.Now()
	docs, err := readAll[Doc](ctx, c.Docs.Join(DocsDir, shardGlob))
	if err != nil {
		return err
	}
	m, met, err := TrainModel(ctx, docs, c.TestFraction.Get(), c.Epochs.Get(), c.Seed.Get())
	if err != nil {
		return err
	}
	if folds := c.CVFolds.Get(); folds > 1 {
		train, _ := quality.Split(docs, func(d Doc) string { return d.ID }, c.TestFraction.Get(), c.Seed.Get())
		ex := make([]quality.Example, len(train))
		for i, d := range train {
			ex[i] = quality.Example{Text: d.Text, Label: quality.Label(d.Text)}
		}
		cpus := c.CVCPUs
		if cpus <= 0 {
			cpus = 1
		}
		if met.CrossValidation, err = crossValidate(ctx, ex, folds, c.Epochs.Get(), c.Seed.Get(), cpus); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		return err
	}
	if err := executor.WriteFile(ctx, c.Output.Join(ModelFile), buf.Bytes()); err != nil {
		return err
	}
	if err := writeJSON(ctx, c.Output.Join(MetricsFile), met); err != nil {
		return err
	}
	return writeJSON(ctx, c.Output.Join(SummaryFile), StepSummary{
		Step: "train-quality", Duration: time.Since(start), Finished: time.Now().UTC(),
		Figures: map[string]int64{FigDocsIn: int64(len(docs))},
		Note: fmt.Sprintf("model.bin: held-out accuracy %.3f (majority baseline %.3f) on %d documents; trained on %d%s",
			met.Test.Accuracy, met.MajorityAccuracy, met.Test.N, met.Train.N, met.CrossValidation.note()),
		Metrics: map[string]float64{"test_accuracy": met.Test.Accuracy, "majority_accuracy": met.MajorityAccuracy,
			"test_f1": met.Test.F1, "train_accuracy": met.Train.Accuracy},
	})
}

// TrainModel is the train step's computation on documents in memory.
func TrainModel(ctx context.Context, docs []Doc, testFraction float64, epochs int, seed uint64) (*quality.Model, TrainMetrics, error) {
	var met TrainMetrics
	train, test := quality.Split(docs, func(d Doc) string { return d.ID }, testFraction, seed)
	if len(train) == 0 || len(test) == 0 {
		return nil, met, fmt.Errorf("train: %d documents give %d for training and %d held out; ingest more documents or change the test fraction", len(docs), len(train), len(test))
	}
	examples := func(ds []Doc) []quality.Example {
		out := make([]quality.Example, len(ds))
		for i, d := range ds {
			out[i] = quality.Example{Text: d.Text, Label: quality.Label(d.Text)}
			if out[i].Label {
				met.LabelPositiveRate++
			}
		}
		return out
	}
	trainEx, testEx := examples(train), examples(test)
	met.Docs = len(docs)
	met.LabelPositiveRate /= float64(len(docs))
	m, err := quality.Train(ctx, trainEx, quality.TrainOptions{Epochs: epochs, Seed: seed, Balance: true})
	if err != nil {
		return nil, met, err
	}
	met.Train = quality.Evaluate(m, trainEx, 0.5)
	met.Test = quality.Evaluate(m, testEx, 0.5)
	var trainPos int
	for _, e := range trainEx {
		if e.Label {
			trainPos++
		}
	}
	majority := 2*trainPos >= len(trainEx)
	var hits int
	for _, e := range testEx {
		if e.Label == majority {
			hits++
		}
	}
	met.MajorityAccuracy = float64(hits) / float64(len(testEx))
	return m, met, nil
}

// ---- classify ----------------------------------------------------------------------------

// ClassifyParams are the parameters of the Classify shard task.
type ClassifyParams struct {
	ModelPath string // model.bin written by the train step (local path or URL)
}

// models caches loaded models by path within a process (a worker process with MaxCalls 0,
// or the local backend's own process, scores many shards).
var models sync.Map // path → *quality.Model

func loadModel(ctx context.Context, path string) (*quality.Model, error) {
	if m, ok := models.Load(path); ok {
		return m.(*quality.Model), nil
	}
	b, err := executor.ReadFile(ctx, path)
	if err != nil {
		return nil, err
	}
	m, err := quality.Load(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	models.Store(path, m)
	return m, nil
}

// Classify scores every document of a shard with the quality model: classification
// inference, one fray task per shard.
var Classify = shards.NewMapperWith("pipeline.classify_shard", func(ctx context.Context, p ClassifyParams) (shards.RecordFunc[Doc, Scored], error) {
	m, err := loadModel(ctx, p.ModelPath)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, d Doc) ([]Scored, error) { return []Scored{ScoreDoc(m, d)}, nil }, nil
})

// ScoreDoc scores one document.
func ScoreDoc(m *quality.Model, d Doc) Scored {
	return Scored{Doc: d, Score: m.Predict(d.Text), Heuristic: quality.Label(d.Text)}
}

// Classifier is the classify step's model actor: its constructor loads the model once,
// and every batch of documents the pool sends it is scored with that model.
var Classifier = fray.NewActor("pipeline.Classifier", func(ctx context.Context, p ClassifyParams) (*ClassifierState, error) {
	b, err := executor.ReadFile(ctx, p.ModelPath)
	if err != nil {
		return nil, err
	}
	m, err := quality.Load(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.ModelPath, err)
	}
	return &ClassifierState{m: m}, nil
})

// ClassifierState is a Classifier actor's state: the loaded model.
type ClassifierState struct{ m *quality.Model }

// ScoreBatch scores a batch of documents (Classifier's method).
func (c *ClassifierState) ScoreBatch(_ context.Context, docs []Doc) ([]Scored, error) {
	out := make([]Scored, len(docs))
	for i, d := range docs {
		out[i] = ScoreDoc(c.m, d)
	}
	return out, nil
}

// ScoreBatch is the Classifier method the classify step's pool runs.
var ScoreBatch = fray.NewMethod(Classifier, "ScoreBatch", (*ClassifierState).ScoreBatch)

// ClassifyConfig configures the classify step.
type ClassifyConfig struct {
	Docs   executor.Path
	Model  executor.Path
	Output executor.Path
	// Actors is the number of Classifier actors (batch inference on an actor pool); 0
	// runs the Classify shard task instead, one task per shard with MaxCalls and CPUs.
	// Not versioned.
	Actors int
	// BatchSize is the number of documents per ScoreBatch call. Not versioned.
	BatchSize int
	MaxCalls  int     // of each shard task when Actors is 0; not versioned
	CPUs      float64 // of each shard task when Actors is 0; not versioned
	// Resources are custom resources each shard task requests beside CPUs, or each
	// Classifier actor holds for its life (Config's ShardResources); not versioned.
	Resources fray.Resources
	Progress  bool
}

// ClassifyFn is the classify step.
var ClassifyFn = executor.NewStepFn("pipeline.classify", ClassifyStep)

// ClassifyStep scores every ingested shard: as batch inference on a pool of c.Actors
// Classifier actors (shards.RunBatches; the model loaded once per actor), or, with
// c.Actors 0, with the Classify shard task, TaskOptions{MaxCalls: c.MaxCalls, Resources:
// {"CPU": c.CPUs}} per shard.
func ClassifyStep(ctx context.Context, c ClassifyConfig) error {
	start := time.Now()
	pw := progress(c.Progress)
	params := ClassifyParams{ModelPath: c.Model.String()}
	var (
		sum  *shards.Summary
		err  error
		note string
	)
	spec := shards.Spec{
		Name:     "classify",
		Input:    c.Docs.Join(DocsDir, shardGlob),
		Output:   c.Output.Join(ScoredDir),
		Progress: pw,
	}
	if c.Actors > 0 {
		sum, err = classifyOnPool(ctx, params, c.Actors, c.Resources, shards.BatchSpec{Spec: spec, BatchSize: c.BatchSize})
		note = fmt.Sprintf("%d shards (%d skipped), batch inference on %d Classifier actors, %d documents per batch", sum.Total, sum.Skipped, c.Actors, batchSize(c.BatchSize))
	} else {
		spec.Options = shardOptions(c.CPUs, c.MaxCalls, c.Resources)
		sum, err = shards.Run(ctx, Classify.With(params), spec)
		note = fmt.Sprintf("%d shards (%d skipped), max calls %d, %g CPU per task", sum.Total, sum.Skipped, c.MaxCalls, shardOptions(c.CPUs, 0, nil).Resources["CPU"])
	}
	logSummary(pw, sum)
	if err != nil {
		return nameShardFlag("classify", err, c.Resources)
	}
	return writeJSON(ctx, c.Output.Join(SummaryFile), StepSummary{
		Step: "classify", Duration: time.Since(start), Finished: time.Now().UTC(),
		Figures: map[string]int64{FigDocsIn: sum.RecordsIn, FigDocsOut: sum.RecordsOut},
		Note:    note,
	})
}

// ClassifyOnPool is the classify step's batch inference: a pool of actors Classifier
// actors, one model load each, scoring the shards of spec in batches.
func ClassifyOnPool(ctx context.Context, p ClassifyParams, actors int, spec shards.BatchSpec) (*shards.Summary, error) {
	return classifyOnPool(ctx, p, actors, nil, spec)
}

// classifyOnPool is ClassifyOnPool with each actor holding resources (none: an actor's
// defaults, placed with 1 CPU).
func classifyOnPool(ctx context.Context, p ClassifyParams, actors int, resources fray.Resources, spec shards.BatchSpec) (*shards.Summary, error) {
	pool, err := actorpool.New(ctx, Classifier, p, ScoreBatch, actorpool.Options{Size: actors, Actor: fray.ActorOptions{Resources: resources}})
	if err != nil {
		return &shards.Summary{Name: spec.Name}, err
	}
	defer pool.Close()
	return shards.RunBatches(ctx, pool, spec)
}

func batchSize(n int) int {
	if n <= 0 {
		return shards.DefaultBatchSize
	}
	return n
}

// ---- filter ------------------------------------------------------------------------------

// Keep passes a scored document on, as a Doc, when its score reaches the threshold.
var Keep = shards.NewMapperWith("pipeline.filter_shard", func(ctx context.Context, threshold float64) (shards.RecordFunc[Scored, Doc], error) {
	return func(ctx context.Context, s Scored) ([]Doc, error) {
		if s.Score >= threshold {
			return []Doc{s.Doc}, nil
		}
		return nil, nil
	}, nil
})

// FilterConfig configures the filter step.
type FilterConfig struct {
	Scored    executor.Path
	Output    executor.Path
	Threshold executor.Value[float64]
	// Resources are custom resources each shard task requests beside its CPU (Config's
	// ShardResources); not versioned.
	Resources fray.Resources
	Progress  bool
}

// FilterFn is the filter step.
var FilterFn = executor.NewStepFn("pipeline.filter", Filter)

// Filter keeps the documents whose score reaches the threshold.
func Filter(ctx context.Context, c FilterConfig) error {
	start := time.Now()
	t := c.Threshold.Get()
	pw := progress(c.Progress)
	sum, err := shards.Run(ctx, Keep.With(t), shards.Spec{
		Name:     "filter",
		Input:    c.Scored.Join(ScoredDir, shardGlob),
		Output:   c.Output.Join(KeptDir),
		Options:  shardOptions(1, 0, c.Resources),
		Progress: pw,
	})
	logSummary(pw, sum)
	if err != nil {
		return nameShardFlag("filter", err, c.Resources)
	}
	kept := 0.0
	if sum.RecordsIn > 0 {
		kept = float64(sum.RecordsOut) / float64(sum.RecordsIn)
	}
	return writeJSON(ctx, c.Output.Join(SummaryFile), StepSummary{
		Step: "filter", Duration: time.Since(start), Finished: time.Now().UTC(),
		Figures: map[string]int64{FigDocsIn: sum.RecordsIn, FigDocsOut: sum.RecordsOut,
			FigKept: sum.RecordsOut, FigDropped: sum.RecordsIn - sum.RecordsOut},
		Note:    fmt.Sprintf("score ≥ %g keeps %.1f%%", t, 100*kept),
		Metrics: map[string]float64{"threshold": t, "kept_fraction": kept},
	})
}

// ---- report ------------------------------------------------------------------------------

// ReportConfig configures the report step.
type ReportConfig struct {
	Ingest, Tokenize, Train, Classify, Filter executor.Path
	Output                                    executor.Path
}

// ReportFn is the report step.
var ReportFn = executor.NewStepFn("pipeline.report", Report)

// SamplesPerKind is how many kept and how many dropped documents the report shows.
const SamplesPerKind = 3

// Report writes report.html (with the histogram embedded) and scores.png.
func Report(ctx context.Context, c ReportConfig) error {
	start := time.Now()
	inputs := []executor.Path{c.Ingest, c.Tokenize, c.Train, c.Classify, c.Filter}
	var sums []StepSummary
	var outputs []string
	for _, p := range inputs {
		var s StepSummary
		if err := readJSON(ctx, p.Join(SummaryFile), &s); err != nil {
			return err
		}
		sums = append(sums, s)
		outputs = append(outputs, p.String())
	}
	var tok TokenStats
	if err := readJSON(ctx, c.Tokenize.Join(StatsFile), &tok); err != nil {
		return err
	}
	var met TrainMetrics
	if err := readJSON(ctx, c.Train.Join(MetricsFile), &met); err != nil {
		return err
	}
	scored, err := readScores(ctx, c.Classify.Join(ScoredDir, shardGlob))
	if err != nil {
		return err
	}
	threshold := sums[4].Metrics["threshold"]
	r := BuildReport(sums, outputs, tok, met, scored, threshold, c.Output.String())
	scores := make([]float64, len(scored))
	for i, s := range scored {
		scores[i] = s.Score
	}
	var png bytes.Buffer
	if err := report.HistogramPNG(&png, scores, report.HistogramOptions{Title: "Quality scores", XLabel: "P(good prose)",
		Min: 0, Max: 1, Bins: 20, Threshold: threshold, ShowThreshold: true}); err != nil {
		return err
	}
	r.HistogramPNG = png.Bytes()
	self := stepRow(StepSummary{Step: "report", Duration: time.Since(start), Note: "this page and " + HistogramPNG,
		Figures: map[string]int64{FigDocsIn: int64(len(scored))}})
	self.Output, self.Href = outputLink(c.Output.String(), c.Output.String())
	r.Steps = append(r.Steps, self)
	var html bytes.Buffer
	if err := r.WriteHTML(&html); err != nil {
		return err
	}
	if err := executor.WriteFile(ctx, c.Output.Join(HistogramPNG), png.Bytes()); err != nil {
		return err
	}
	if err := executor.WriteFile(ctx, c.Output.Join(ReportFile), html.Bytes()); err != nil {
		return err
	}
	return writeJSON(ctx, c.Output.Join(SummaryFile), StepSummary{Step: "report",
		Figures:  map[string]int64{FigDocsIn: int64(len(scored))},
		Duration: time.Since(start), Finished: time.Now().UTC()})
}

// ScoreRecord is what the report keeps of a Scored record: the text only as an excerpt.
type ScoreRecord struct {
	ID        string
	Source    string
	Title     string
	Score     float64
	Heuristic bool
	Excerpt   string
}

// excerptRunes is how much of a sample document's text the report shows.
const excerptRunes = 220

// readScores reads the scored shards matching glob, keeping an excerpt of each text.
func readScores(ctx context.Context, glob string) ([]ScoreRecord, error) {
	paths, err := shards.Glob(ctx, glob)
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no shards match %s", glob)
	}
	var out []ScoreRecord
	for _, p := range paths {
		for s, err := range shards.Read[Scored](ctx, p) {
			if err != nil {
				return nil, err
			}
			out = append(out, ScoreRecord{ID: s.ID, Source: s.Source, Title: s.Title, Score: s.Score,
				Heuristic: s.Heuristic, Excerpt: report.Excerpt(s.Text, excerptRunes)})
		}
	}
	return out, nil
}

// Column labels of the report's steps table.
const (
	colDocsIn  = "docs in"
	colDocsOut = "docs out"
	colKept    = "kept"
	colDropped = "dropped"
	colTokens  = "tokens"
	colBytes   = "text bytes"
	colRate    = "docs/s"
)

// stepRow turns a step's summary into its row: each figure the step recorded, and docs/s
// for steps that handle documents.
func stepRow(s StepSummary) report.Step {
	f := map[string]string{}
	fig := func(key, col string, format func(int64) string) {
		if v, ok := s.Figures[key]; ok {
			f[col] = format(v)
		}
	}
	in, hasIn := s.Figures[FigDocsIn]
	fig(FigDocsIn, colDocsIn, report.Count)
	fig(FigDocsOut, colDocsOut, report.Count)
	if kept, ok := s.Figures[FigKept]; ok && hasIn {
		f[colKept] = report.Share(kept, in)
	}
	if dropped, ok := s.Figures[FigDropped]; ok && hasIn {
		f[colDropped] = report.Share(dropped, in)
	}
	fig(FigTokens, colTokens, report.Count)
	fig(FigBytes, colBytes, report.Bytes)
	docs, ok := in, hasIn
	if !ok {
		docs, ok = s.Figures[FigDocsOut]
	}
	if ok && s.Duration > 0 {
		f[colRate] = report.Count(int64(float64(docs) / s.Duration.Seconds()))
	}
	return report.Step{Name: s.Step, Duration: s.Duration, Note: s.Note, Figures: f}
}

// outputLink names a step's output directory and links it from the report, which lives
// in reportDir: relatively when both are in the same directory (the usual case: every
// step under <prefix>/pipeline), by absolute path for other local directories, and not at
// all for bucket URLs, which a browser cannot open.
func outputLink(out, reportDir string) (text, href string) {
	out = strings.TrimSuffix(out, "/")
	base := out[strings.LastIndex(out, "/")+1:] + "/"
	dir := func(p string) string { return p[:strings.LastIndex(p, "/")+1] }
	switch {
	case out == strings.TrimSuffix(reportDir, "/"):
		return base, "./"
	case strings.Contains(out, "/") && dir(out) == dir(strings.TrimSuffix(reportDir, "/")):
		return base, "../" + base
	case strings.HasPrefix(out, "/"):
		return out + "/", out + "/"
	}
	return out, ""
}

// PickSamples chooses up to n kept and n dropped documents to show: for each, the
// highest-scoring, the lowest-scoring and those between them at even steps, so the tables
// show both the clear cases and the ones near the threshold. Ties are broken by ID, so the
// choice is stable.
func PickSamples(scored []ScoreRecord, threshold float64, n int) []report.Sample {
	var kept, dropped []ScoreRecord
	for _, s := range scored {
		if s.Score >= threshold {
			kept = append(kept, s)
		} else {
			dropped = append(dropped, s)
		}
	}
	var out []report.Sample
	for _, group := range [][]ScoreRecord{kept, dropped} {
		sort.Slice(group, func(i, j int) bool {
			if group[i].Score != group[j].Score {
				return group[i].Score > group[j].Score
			}
			return group[i].ID < group[j].ID
		})
		for _, s := range spread(group, n) {
			out = append(out, report.Sample{ID: s.ID, Source: s.Source, Title: s.Title, Score: s.Score,
				Kept: s.Score >= threshold, Excerpt: s.Excerpt})
		}
	}
	return out
}

// spread returns n elements of xs at even steps from the first to the last (all of xs if
// it has no more than n).
func spread[T any](xs []T, n int) []T {
	if len(xs) <= n || n < 2 {
		return xs[:min(n, len(xs))]
	}
	out := make([]T, n)
	for i := range out {
		out[i] = xs[i*(len(xs)-1)/(n-1)]
	}
	return out
}

// BuildReport assembles the report (everything but the histogram and the report step's
// own row): a row per step with the figures that apply to it and a link to its output
// (outputs[i] is sums[i]'s output directory; reportDir the report's own), the metrics,
// and sample documents that were kept and dropped.
func BuildReport(sums []StepSummary, outputs []string, tok TokenStats, met TrainMetrics, scored []ScoreRecord, threshold float64, reportDir string) *report.Report {
	r := &report.Report{Title: "fray flagship pipeline",
		Columns: []string{colDocsIn, colDocsOut, colKept, colDropped, colTokens, colBytes, colRate}}
	for i, s := range sums {
		row := stepRow(s)
		if i < len(outputs) {
			row.Output, row.Href = outputLink(outputs[i], reportDir)
		}
		r.Steps = append(r.Steps, row)
	}
	add := func(name, format string, args ...any) {
		r.Metrics = append(r.Metrics, report.Metric{Name: name, Value: fmt.Sprintf(format, args...)})
	}
	add("documents", "%d", met.Docs)
	add("tokens ("+tok.Encoding+")", "%d (%.1f per document, %.2f bytes per token)", tok.Tokens, tok.TokensPerDoc, tok.BytesPerToken)
	add("heuristic label: good prose", "%.1f%% of documents", 100*met.LabelPositiveRate)
	add("held-out accuracy", "%.3f on %d documents (always predicting the majority label: %.3f)", met.Test.Accuracy, met.Test.N, met.MajorityAccuracy)
	add("held-out precision / recall / F1", "%.3f / %.3f / %.3f", met.Test.Precision, met.Test.Recall, met.Test.F1)
	add("training accuracy", "%.3f on %d documents", met.Train.Accuracy, met.Train.N)
	var kept, agree int
	type srcCount struct{ kept, total int }
	bySource := map[string]*srcCount{}
	for _, s := range scored {
		c := bySource[s.Source]
		if c == nil {
			c = &srcCount{}
			bySource[s.Source] = c
		}
		c.total++
		if s.Score >= threshold {
			kept++
			c.kept++
		}
		if (s.Score >= 0.5) == s.Heuristic {
			agree++
		}
	}
	if n := len(scored); n > 0 {
		add("threshold", "%g: keeps %d of %d documents (%.1f%%)", threshold, kept, n, 100*float64(kept)/float64(n))
		add("classifier agrees with the heuristic", "%.1f%% of all documents (training ones included)", 100*float64(agree)/float64(n))
	}
	srcs := make([]string, 0, len(bySource))
	for s := range bySource {
		srcs = append(srcs, s)
	}
	sort.Strings(srcs)
	for _, s := range srcs {
		c := bySource[s]
		add("kept from "+s, "%d of %d (%.1f%%)", c.kept, c.total, 100*float64(c.kept)/float64(c.total))
	}
	r.Samples = PickSamples(scored, threshold, SamplesPerKind)
	r.KeptRule, r.DroppedRule = fmt.Sprintf("score ≥ %g", threshold), fmt.Sprintf("score < %g", threshold)
	return r
}

// readAll reads every record of the JSONL shards matching glob.
func readAll[T any](ctx context.Context, glob string) ([]T, error) {
	paths, err := shards.Glob(ctx, glob)
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no shards match %s", glob)
	}
	var out []T
	for _, p := range paths {
		for v, err := range shards.Read[T](ctx, p) {
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
	return out, nil
}
