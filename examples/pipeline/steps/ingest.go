package steps

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fray-go/fray/executor"
	"github.com/fray-go/fray/processing/corpus"
	"github.com/fray-go/fray/processing/shards"
)

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
