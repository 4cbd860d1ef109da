package migration

import (
	"context"
	"strings"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/actorpool"
	"github.com/fray-go/fray/processing/shards"
)

// snippet:pattern6-decl

// Scored is a document with the model's verdict.
type Scored struct {
	Doc
	Words int  `json:"words"`
	Long  bool `json:"long"`
}

// ModelState is a model actor's state: what its constructor loaded, once per actor.
type ModelState struct{ minWords int }

// Model is the model actor class; its argument stands in for a checkpoint path.
var Model = fray.NewActor("migration.Model", func(ctx context.Context, minWords int) (*ModelState, error) {
	return &ModelState{minWords: minWords}, nil // load the weights here, once per actor
})

// Predict scores a batch of documents.
func (m *ModelState) Predict(ctx context.Context, batch []Doc) ([]Scored, error) {
	out := make([]Scored, len(batch))
	for i, d := range batch {
		n := len(strings.Fields(d.Text))
		out[i] = Scored{Doc: d, Words: n, Long: n >= m.minWords}
	}
	return out, nil
}

// PredictBatch is Predict registered as the actor's method.
var PredictBatch = fray.NewMethod(Model, "Predict", (*ModelState).Predict)

// end snippet:pattern6-decl

// ScoreBatches is Ray's ActorPool.map: batches over a pool of 2 model actors, results in
// input order.
func ScoreBatches(ctx context.Context, batches [][]Doc) ([][]Scored, error) {
	// snippet:pattern6-pool
	pool, err := actorpool.New(ctx, Model, 3, PredictBatch, actorpool.Options{
		Size:  2,                                                      // actors, each with its own model
		Actor: fray.ActorOptions{Resources: fray.Resources{"CPU": 1}}, // e.g. {"GPU": 1} each
	})
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	return pool.Map(ctx, batches) // or MapUnordered, MapSeq, Submit + GetNext
	// end snippet:pattern6-pool
}

// ScoreFiles is Ray Data's map_batches over JSON Lines shards.
func ScoreFiles(ctx context.Context, input, output string) (*shards.Summary, error) {
	// snippet:pattern6-batches
	pool, err := actorpool.New(ctx, Model, 3, PredictBatch, actorpool.Options{Size: 2})
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	return shards.RunBatches(ctx, pool, shards.BatchSpec{
		Spec:      shards.Spec{Input: input, Output: output}, // complete shards are skipped
		BatchSize: 256,
	})
	// end snippet:pattern6-batches
}
