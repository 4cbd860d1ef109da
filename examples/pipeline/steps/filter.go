package steps

import (
	"context"
	"fmt"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/executor"
	"github.com/fray-go/fray/processing/shards"
)

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
