package steps

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/fray-go/fray/executor"
	"github.com/fray-go/fray/processing/report"
	"github.com/fray-go/fray/processing/shards"
)

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
