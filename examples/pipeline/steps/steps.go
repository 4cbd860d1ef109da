// Package steps is the flagship fray pipeline as executor steps: ingest a real text corpus
// into JSONL shards, tokenize it with a BPE tokenizer, train a quality classifier, score
// every document with it (batch inference on a pool of model actors), filter
// by score, and write an HTML report.
//
//	p := steps.New(steps.DefaultConfig())
//	rep, err := executor.Run(ctx, executor.Options{Prefix: "/data/run"}, p.Steps()...)
//	html, err := p.ReportPath("/data/run") // where the report step wrote report.html
//
// Every step is versioned by the executor: a rerun with nothing changed skips every step,
// and a change to one step's versioned config reruns that step and the steps that depend on
// it (changing the threshold reruns filter and report only).
//
// The shard functions (TokenizeShard, Classify, Keep) are registered fray tasks declared at
// package level, so any binary that imports this package can serve them in worker
// processes and on Ray workers.
package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/executor"
	"github.com/fray-go/fray/processing/corpus"
	progressview "github.com/fray-go/fray/processing/progress"
	"github.com/fray-go/fray/processing/shards"
	"github.com/fray-go/fray/processing/tokenize"
)

// Config is everything the pipeline's command line can set.
type Config struct {
	// MaxDocs is how many documents to ingest, spread evenly over the corpus sources (a
	// source with fewer documents leaves its share to the next). 0 means every document,
	// which is slow: the Go sources alone are thousands of files.
	MaxDocs int
	// DocsPerShard is the number of documents per JSONL shard.
	DocsPerShard int
	// MaxTextBytes truncates longer documents.
	MaxTextBytes int
	// Sources are the corpus sources (corpus.AllSources by default).
	Sources []string
	// Encoding is the BPE encoding for tokenization (tokenize.Cl100kBase or O200kBase).
	Encoding string
	// TestFraction of the documents is held out from training for evaluation.
	TestFraction float64
	// Epochs of classifier training.
	Epochs int
	// Seed of the train/test split and of training.
	Seed uint64
	// CVFolds > 1 cross-validates the classifier in the train step with that many fold
	// workers, gang-scheduled in a STRICT_PACK placement group of one-CPU bundles; 0 or 1
	// skips it.
	CVFolds int
	// Threshold is the minimum quality score a document needs to be kept.
	Threshold float64
	// ClassifyActors is the number of model actors of the classify step's batch inference
	// (an actor pool; the model is loaded once per actor). 0 scores one shard task per
	// shard instead, with InferenceMaxCalls. Not versioned.
	ClassifyActors int
	// BatchSize is the number of documents per batch of the classify step's actors. Not
	// versioned.
	BatchSize int
	// InferenceMaxCalls is the MaxCalls of the inference shard tasks when ClassifyActors is
	// 0: 1 gives every shard a fresh worker process (MIGRATION.md, Pattern 1, max_calls=1); 0
	// reuses processes or, on the local backend, runs the shards in-process. Not versioned.
	InferenceMaxCalls int
	// ShardCPUs is the CPU request of each tokenize and inference shard task. Not versioned.
	ShardCPUs float64
	// ShardResources are custom resources (no CPU) each shard task of the sharded steps
	// (tokenize, classify, filter) requests beside its CPUs, and each classify actor holds (the command's
	// --shard-resources): {"node_b": 0.1} pins the shard work to the nodes that have
	// node_b. Not versioned.
	ShardResources fray.Resources
	// Progress shows progress bars of the sharded steps on standard error. Not versioned.
	Progress bool
}

// DefaultConfig is the configuration the command uses without flags: small enough to run
// end to end in well under a minute on two cores.
func DefaultConfig() Config {
	return Config{
		MaxDocs:           1200,
		DocsPerShard:      100,
		MaxTextBytes:      32 << 10,
		Sources:           corpus.AllSources,
		Encoding:          tokenize.Cl100kBase,
		TestFraction:      0.2,
		Epochs:            5,
		Seed:              1,
		CVFolds:           2,
		Threshold:         0.5,
		ClassifyActors:    2,
		BatchSize:         32,
		InferenceMaxCalls: 1,
		ShardCPUs:         1,
	}
}

// Step names.
const (
	IngestName   = "pipeline/ingest"
	TokenizeName = "pipeline/tokenize"
	TrainName    = "pipeline/train-quality"
	ClassifyName = "pipeline/classify"
	FilterName   = "pipeline/filter"
	ReportName   = "pipeline/report"
)

// Pipeline holds the six steps. Their configs refer to each other (OutputPathOf), so they
// are made together by New and reconfigured together by Configure.
type Pipeline struct {
	Ingest, Tokenize, Train, Classify, Filter, Report *executor.Step
}

// New builds the pipeline for c.
func New(c Config) *Pipeline {
	p := &Pipeline{
		Ingest:   executor.NewStep(IngestName, IngestFn, IngestConfig{}),
		Tokenize: executor.NewStep(TokenizeName, TokenizeFn, TokenizeConfig{}),
		Train:    executor.NewStep(TrainName, TrainFn, TrainConfig{}),
		Classify: executor.NewStep(ClassifyName, ClassifyFn, ClassifyConfig{}),
		Filter:   executor.NewStep(FilterName, FilterFn, FilterConfig{}),
		Report:   executor.NewStep(ReportName, ReportFn, ReportConfig{}),
	}
	p.Configure(c)
	return p
}

// Configure sets every step's config from c (the step pointers stay the same, so a command
// built around them before its flags were parsed runs the new configs).
func (p *Pipeline) Configure(c Config) {
	p.Ingest.Config = IngestConfig{
		Output:       executor.ThisOutputPath(),
		MaxDocs:      executor.Versioned(c.MaxDocs),
		DocsPerShard: executor.Versioned(c.DocsPerShard),
		MaxTextBytes: executor.Versioned(c.MaxTextBytes),
		Sources:      executor.Versioned(c.Sources),
		// The corpus is read from the Go installation the binary was built with.
		GoVersion: executor.Versioned(runtime.Version()),
	}
	p.Ingest.Description = "documents from GOROOT and man pages, as zstd JSONL shards"
	p.Tokenize.Config = TokenizeConfig{
		Docs:      executor.OutputPathOf(p.Ingest),
		Output:    executor.ThisOutputPath(),
		Encoding:  executor.Versioned(c.Encoding),
		CPUs:      c.ShardCPUs,
		Resources: c.ShardResources,
		Progress:  c.Progress,
	}
	p.Tokenize.Description = "BPE token shards and token statistics"
	p.Train.Config = TrainConfig{
		Docs:         executor.OutputPathOf(p.Ingest),
		Output:       executor.ThisOutputPath(),
		TestFraction: executor.Versioned(c.TestFraction),
		Epochs:       executor.Versioned(c.Epochs),
		Seed:         executor.Versioned(c.Seed),
		CVFolds:      executor.Versioned(c.CVFolds),
	}
	p.Train.Description = "quality classifier on heuristic labels, with held-out accuracy"
	p.Classify.Config = ClassifyConfig{
		Docs:      executor.OutputPathOf(p.Ingest),
		Model:     executor.OutputPathOf(p.Train, "model.bin"),
		Output:    executor.ThisOutputPath(),
		Actors:    c.ClassifyActors,
		BatchSize: c.BatchSize,
		MaxCalls:  c.InferenceMaxCalls,
		CPUs:      c.ShardCPUs,
		Resources: c.ShardResources,
		Progress:  c.Progress,
	}
	p.Classify.Description = "quality score of every document: batch inference on a pool of model actors"
	p.Filter.Config = FilterConfig{
		Scored:    executor.OutputPathOf(p.Classify),
		Output:    executor.ThisOutputPath(),
		Threshold: executor.Versioned(c.Threshold),
		Resources: c.ShardResources,
		Progress:  c.Progress,
	}
	p.Filter.Description = "documents whose score reaches the threshold"
	p.Report.Config = ReportConfig{
		Ingest:   executor.OutputPathOf(p.Ingest),
		Tokenize: executor.OutputPathOf(p.Tokenize),
		Train:    executor.OutputPathOf(p.Train),
		Classify: executor.OutputPathOf(p.Classify),
		Filter:   executor.OutputPathOf(p.Filter),
		Output:   executor.ThisOutputPath(),
	}
	p.Report.Description = "HTML report: counts per step, score histogram, timings"
}

// Steps returns the six steps in dependency order.
func (p *Pipeline) Steps() []*executor.Step {
	return []*executor.Step{p.Ingest, p.Tokenize, p.Train, p.Classify, p.Filter, p.Report}
}

// ReportPath returns where the report step writes report.html under prefix.
func (p *Pipeline) ReportPath(prefix string) (string, error) {
	plan, err := executor.Plan(prefix, p.Report)
	if err != nil {
		return "", err
	}
	for _, s := range plan {
		if s.Name == ReportName {
			return executor.JoinPath(s.OutputPath, ReportFile), nil
		}
	}
	return "", fmt.Errorf("pipeline: report step missing from the plan")
}

// File names inside step outputs.
const (
	SummaryFile  = "summary.json" // every step: a StepSummary
	DocsDir      = "docs"         // ingest: docs-NNNNN.jsonl.zst
	TokensDir    = "tokens"       // tokenize: docs-NNNNN.tok
	StatsFile    = "stats.json"   // tokenize: TokenStats
	ModelFile    = "model.bin"    // train: the quality model
	MetricsFile  = "metrics.json" // train: TrainMetrics
	ScoredDir    = "scored"       // classify: docs-NNNNN.jsonl.zst of Scored
	KeptDir      = "kept"         // filter: docs-NNNNN.jsonl.zst of Doc
	ReportFile   = "report.html"  // report
	HistogramPNG = "scores.png"   // report
	shardGlob    = "*.jsonl.zst"  // the shards of a directory
	docsPattern  = "docs-%05d.jsonl.zst"
)

// Doc is a corpus document as the pipeline stores it.
type Doc struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	Title  string `json:"title,omitempty"`
	Text   string `json:"text"`
}

// Scored is a document with its quality score.
type Scored struct {
	Doc
	// Score is the classifier's probability that the document is good prose.
	Score float64 `json:"score"`
	// Heuristic is quality.Label's verdict (the training label), kept for the report.
	Heuristic bool `json:"heuristic"`
}

// StepSummary is what every step records in its summary.json for the report.
type StepSummary struct {
	Step string `json:"step"`
	// Figures are the step's counts by Fig* key: only those that apply to the step (an
	// ingest reads no documents, so it has no FigDocsIn; only the filter keeps and drops).
	Figures  map[string]int64   `json:"figures,omitempty"`
	Duration time.Duration      `json:"duration_ns"`
	Finished time.Time          `json:"finished"`
	Note     string             `json:"note,omitempty"`
	Metrics  map[string]float64 `json:"metrics,omitempty"`
}

// Figure keys of StepSummary.Figures.
const (
	FigDocsIn  = "docs_in"  // documents read
	FigDocsOut = "docs_out" // documents written
	FigKept    = "kept"     // documents a filter kept
	FigDropped = "dropped"  // documents a filter dropped
	FigTokens  = "tokens"   // tokens produced
	FigBytes   = "bytes"    // bytes of document text handled
)

func writeJSON(ctx context.Context, path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return executor.WriteFile(ctx, path, append(b, '\n'))
}

func readJSON(ctx context.Context, path string, v any) error {
	b, err := executor.ReadFile(ctx, path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// progress returns where sharded steps draw progress bars: standard error when enabled and
// a live view shows it (a terminal, or the driver's view a local worker process relays to;
// on Ray workers it is a log file, where a redrawn bar would be one endless line).
func progress(enabled bool) io.Writer {
	if enabled && progressview.Live(os.Stderr) {
		return os.Stderr
	}
	return nil
}

// logSummary logs a sharded run's summary line when no progress bar printed it.
func logSummary(w io.Writer, sum *shards.Summary) {
	if w == nil && sum != nil && sum.Total > 0 {
		slog.Info(sum.String())
	}
}

// shardOptions are the task options of the pipeline's shard tasks (MIGRATION.md, Pattern 1:
// resources and max calls at the call site).
func shardOptions(cpus float64, maxCalls int, extra fray.Resources) fray.TaskOptions {
	if cpus <= 0 {
		cpus = 1
	}
	r := extra.Clone()
	if r == nil {
		r = fray.Resources{}
	}
	r[fray.CPU] = cpus
	return fray.TaskOptions{MaxCalls: maxCalls, Resources: r}
}

// nameShardFlag makes an infeasible request of the shard tasks (or classify actors) name
// the flag to change: --shard-resources for one of extra's resources, --shard-cpus for CPU.
func nameShardFlag(step string, err error, extra fray.Resources) error {
	var ie *fray.InfeasibleError
	if !errors.As(err, &ie) {
		return err
	}
	if _, ok := extra[ie.Resource]; ok {
		return fmt.Errorf("%s: the shard work requests %g %s (--shard-resources %s=%g), which no node of the cluster has; start a node with that resource or change --shard-resources: %w",
			step, ie.Requested, ie.Resource, ie.Resource, ie.Requested, err)
	}
	if ie.Resource == fray.CPU {
		return fmt.Errorf("%s: lower --shard-cpus: %w", step, err)
	}
	return err
}
