package steps

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/fray-go/fray/executor"
	"github.com/fray-go/fray/processing/quality"
)

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
