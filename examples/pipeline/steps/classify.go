package steps

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/actorpool"
	"github.com/fray-go/fray/executor"
	"github.com/fray-go/fray/processing/quality"
	"github.com/fray-go/fray/processing/shards"
)

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

// TextScore is what a Classifier says of one text: ScoreDoc's two verdicts.
type TextScore struct {
	Score     float64 `cbor:"s"`
	Heuristic bool    `cbor:"h,omitempty"`
}

// ScoreTexts scores a batch of texts (Classifier's method). Only the texts cross to the
// actor and only the verdicts come back: the documents stay with the step, which merges
// them (scoreDocs), so a batch costs the actor one text decode each and no document
// round trip.
func (c *ClassifierState) ScoreTexts(_ context.Context, texts []string) ([]TextScore, error) {
	out := make([]TextScore, len(texts))
	for i, t := range texts {
		out[i] = TextScore{Score: c.m.Predict(t), Heuristic: quality.Label(t)}
	}
	return out, nil
}

// ScoreTexts is the Classifier method the classify step's pool runs.
var ScoreTexts = fray.NewMethod(Classifier, "ScoreTexts", (*ClassifierState).ScoreTexts)

// docTexts is a batch's call input for ScoreTexts.
func docTexts(docs []Doc) []string {
	texts := make([]string, len(docs))
	for i, d := range docs {
		texts[i] = d.Text
	}
	return texts
}

// scoreDocs merges ScoreTexts' verdicts back into their documents.
func scoreDocs(docs []Doc, scores []TextScore) ([]Scored, error) {
	if len(scores) != len(docs) {
		return nil, fmt.Errorf("the Classifier answered %d scores for %d documents", len(scores), len(docs))
	}
	out := make([]Scored, len(docs))
	for i, d := range docs {
		out[i] = Scored{Doc: d, Score: scores[i].Score, Heuristic: scores[i].Heuristic}
	}
	return out, nil
}

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
// Classifier actors (shards.RunBatchesWith; the model loaded once per actor, only the
// texts sent to it), or, with
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
	pool, err := actorpool.New(ctx, Classifier, p, ScoreTexts, actorpool.Options{Size: actors, Actor: fray.ActorOptions{Resources: resources}})
	if err != nil {
		return &shards.Summary{Name: spec.Name}, err
	}
	defer pool.Close()
	return shards.RunBatchesWith(ctx, pool, spec, docTexts, scoreDocs)
}

func batchSize(n int) int {
	if n <= 0 {
		return shards.DefaultBatchSize
	}
	return n
}
