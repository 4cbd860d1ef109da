package steps

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/processing/quality"
)

// The train step also cross-validates the classifier: k fold workers, each training on
// k-1 folds of the training documents and evaluating on the one left out, run at the same
// time in one STRICT_PACK placement group of k one-CPU bundles (MIGRATION.md, "Placement
// groups"). The group is the gang: the workers start together, on one node, or not at
// all, and the step removes it when they are done. The final model is trained as before,
// on all the training documents; the folds only say how much its accuracy varies.

// FoldArg is one fold worker's input.
type FoldArg struct {
	// Examples are all the training examples, put once and shared by the folds.
	Examples fray.Ref[[]quality.Example]
	// Fold is this worker's held-out fold (0 <= Fold < Folds): examples i with
	// i % Folds == Fold.
	Fold, Folds int
	Epochs      int
	Seed        uint64
}

// TrainFold is a cross-validation worker: it trains on every fold but its own and
// evaluates on its own.
var TrainFold = fray.NewTask("pipeline.train_fold", func(ctx context.Context, a FoldArg) (quality.Metrics, error) {
	all, err := a.Examples.Get(ctx)
	if err != nil {
		return quality.Metrics{}, err
	}
	var train, held []quality.Example
	for i, e := range all {
		if i%a.Folds == a.Fold {
			held = append(held, e)
		} else {
			train = append(train, e)
		}
	}
	m, err := quality.Train(ctx, train, quality.TrainOptions{Epochs: a.Epochs, Seed: a.Seed + uint64(a.Fold), Balance: true})
	if err != nil {
		return quality.Metrics{}, fmt.Errorf("fold %d of %d: %w", a.Fold, a.Folds, err)
	}
	return quality.Evaluate(m, held, 0.5), nil
})

// CrossValidation is the train step's cross-validation result in metrics.json.
type CrossValidation struct {
	Folds int
	// Accuracy of each fold on its held-out part, and their mean and standard deviation.
	Accuracy           []float64
	MeanAccuracy, Std  float64
	PlacementGroup     string // the gang's group, as the backend described it
	GroupReadyAfter    time.Duration
	WorkersElapsedTime time.Duration
}

// crossValidate runs folds fold workers gang-scheduled in a STRICT_PACK placement group.
// cpus is each worker's bundle and request.
func crossValidate(ctx context.Context, examples []quality.Example, folds, epochs int, seed uint64, cpus float64) (*CrossValidation, error) {
	if folds < 2 {
		return nil, nil
	}
	if len(examples) < folds {
		return nil, fmt.Errorf("train: cross-validation with %d folds needs at least %d training documents, got %d; lower --cv-folds or ingest more", folds, folds, len(examples))
	}
	bundles := make([]fray.Resources, folds)
	for i := range bundles {
		bundles[i] = fray.Resources{fray.CPU: cpus}
	}
	start := time.Now()
	pg, err := fray.CreatePlacementGroup(ctx, fray.PlacementGroupOptions{Bundles: bundles, Strategy: fray.StrictPack})
	if err != nil {
		return nil, fmt.Errorf("train: cross-validation with %d folds needs a placement group of %d bundles of %g CPU on one node (lower --cv-folds, 0 turns it off): %w", folds, folds, cpus, err)
	}
	defer pg.Remove(context.WithoutCancel(ctx))
	// Waiting lends this step's own CPU, so on a small machine the group is reserved as
	// soon as the steps beside it leave room.
	if err := pg.Ready(ctx, 10*time.Minute); err != nil {
		return nil, fmt.Errorf("train: cross-validation needs %d bundles of %g CPU on one node: %w", folds, cpus, err)
	}
	cv := &CrossValidation{Folds: folds, PlacementGroup: pg.String(), GroupReadyAfter: time.Since(start)}
	ref, err := fray.Put(ctx, examples)
	if err != nil {
		return nil, err
	}
	refs := make([]fray.Ref[quality.Metrics], folds)
	for i := range refs {
		opts := fray.TaskOptions{Resources: fray.Resources{fray.CPU: cpus}, Placement: &fray.PlacementOptions{Group: pg, Bundle: i}}
		if refs[i], err = TrainFold.Remote(ctx, FoldArg{Examples: ref, Fold: i, Folds: folds, Epochs: epochs, Seed: seed}, opts); err != nil {
			return nil, err
		}
	}
	ms, err := fray.GetAll(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("train: cross-validation: %w", err)
	}
	cv.WorkersElapsedTime = time.Since(start) - cv.GroupReadyAfter
	for _, m := range ms {
		cv.Accuracy = append(cv.Accuracy, m.Accuracy)
		cv.MeanAccuracy += m.Accuracy / float64(folds)
	}
	for _, a := range cv.Accuracy {
		cv.Std += (a - cv.MeanAccuracy) * (a - cv.MeanAccuracy) / float64(folds)
	}
	cv.Std = math.Sqrt(cv.Std)
	return cv, nil
}

// note is the cross-validation's part of the step summary's note ("" without one).
func (cv *CrossValidation) note() string {
	if cv == nil {
		return ""
	}
	return fmt.Sprintf("; %d-fold cross-validation accuracy %.3f ± %.3f (fold workers gang-scheduled in %s)", cv.Folds, cv.MeanAccuracy, cv.Std, cv.PlacementGroup)
}
