package steps

import (
	"context"
	"fmt"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/executor"
	"github.com/fray-go/fray/processing/shards"
	"github.com/fray-go/fray/processing/tokenize"
)

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
