// Package quality is a document quality classifier: logistic regression
// over hashed word unigram and bigram features (the hashing trick, 2^18
// features by default), trained with plain SGD. Training is deterministic
// for a given seed and input order.
//
//	m, err := quality.Train(ctx, []quality.Example{{Text: prose, Label: true}, {Text: code, Label: false}},
//		quality.TrainOptions{Epochs: 5, Seed: 1})
//	p := m.Predict("A sentence that reads like prose.") // P(good), in [0, 1]
//	err = m.Save(w)                                    // and quality.Load(r)
//
// The package also provides Label, an honest heuristic labeling function
// for unlabeled corpora (see its documentation), Split for a stable
// held-out split, Evaluate for accuracy/precision/recall, and a versioned,
// checksummed binary model format (Save/Load).
package quality

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Example is a labeled training or evaluation document.
type Example struct {
	Text  string // document text
	Label bool   // true = high quality
}

// TrainOptions configures Train. Zero fields take the documented defaults.
type TrainOptions struct {
	// Bits is the feature-space exponent; default DefaultBits (18).
	Bits int
	// Epochs over the training set; default 5.
	Epochs int
	// LearningRate is the initial step size; default 0.5. Epoch e uses
	// LearningRate/sqrt(1+e).
	LearningRate float64
	// L2 is the weight-decay coefficient applied to touched weights;
	// default 1e-6. Use a negative value for none.
	L2 float64
	// Seed drives example shuffling; equal seeds give identical models.
	Seed uint64
	// Balance weights each class inversely to its frequency, so a rare
	// positive class is not ignored.
	Balance bool
}

func (o *TrainOptions) defaults() error {
	if o.Bits == 0 {
		o.Bits = DefaultBits
	}
	if o.Bits < 1 || o.Bits > 30 {
		return fmt.Errorf("quality: Bits %d out of range [1,30]", o.Bits)
	}
	if o.Epochs == 0 {
		o.Epochs = 5
	}
	if o.LearningRate == 0 {
		o.LearningRate = 0.5
	}
	if o.L2 == 0 {
		o.L2 = 1e-6
	}
	if o.L2 < 0 {
		o.L2 = 0
	}
	if o.Epochs < 0 || o.LearningRate < 0 || math.IsNaN(o.LearningRate) {
		return errors.New("quality: negative Epochs or LearningRate")
	}
	return nil
}

// Model is a trained classifier. Predict is safe for concurrent use.
type Model struct {
	// Bits is the feature-space exponent; len(Weights) == 1<<Bits.
	Bits int
	// Weights are the per-feature coefficients.
	Weights []float32
	// Bias is the intercept.
	Bias float64
}

// sigmoid is the numerically safe logistic function.
func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// Score returns the raw logit for a featurized document.
func (m *Model) Score(v Vector) float64 {
	z := m.Bias
	for i, idx := range v.Index {
		z += float64(m.Weights[idx]) * float64(v.Value[i])
	}
	return z
}

// PredictVector returns P(high quality) for a featurized document (which
// must have been featurized with m.Bits).
func (m *Model) PredictVector(v Vector) float64 { return sigmoid(m.Score(v)) }

// Predict returns P(high quality) for text, in [0, 1].
func (m *Model) Predict(text string) float64 {
	return m.PredictVector(Featurize(text, m.Bits))
}

// Train fits a model on examples with SGD on the logistic loss. It returns
// an error if examples is empty or the options are invalid; ctx is checked
// between epochs.
func Train(ctx context.Context, examples []Example, opts TrainOptions) (*Model, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if len(examples) == 0 {
		return nil, errors.New("quality: no training examples")
	}
	vecs := make([]Vector, len(examples))
	var pos int
	for i, ex := range examples {
		vecs[i] = Featurize(ex.Text, opts.Bits)
		if ex.Label {
			pos++
		}
	}
	wPos, wNeg := 1.0, 1.0
	if opts.Balance && pos > 0 && pos < len(examples) {
		wPos = float64(len(examples)) / (2 * float64(pos))
		wNeg = float64(len(examples)) / (2 * float64(len(examples)-pos))
	}
	m := &Model{Bits: opts.Bits, Weights: make([]float32, 1<<opts.Bits)}
	// Start the bias at the log-odds of the base rate.
	if pos > 0 && pos < len(examples) && !opts.Balance {
		m.Bias = math.Log(float64(pos) / float64(len(examples)-pos))
	}
	rng := rand.New(rand.NewPCG(opts.Seed, opts.Seed^0xda3e39cb94b95bdb))
	order := make([]int, len(examples))
	for i := range order {
		order[i] = i
	}
	for epoch := 0; epoch < opts.Epochs; epoch++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		lr := opts.LearningRate / math.Sqrt(1+float64(epoch))
		for _, i := range order {
			v := vecs[i]
			p := m.PredictVector(v)
			y, w := 0.0, wNeg
			if examples[i].Label {
				y, w = 1, wPos
			}
			g := (p - y) * w // d(loss)/d(logit)
			for k, idx := range v.Index {
				wt := float64(m.Weights[idx])
				wt -= lr * (g*float64(v.Value[k]) + opts.L2*wt)
				m.Weights[idx] = float32(wt)
			}
			m.Bias -= lr * g
		}
	}
	return m, nil
}

// Metrics summarizes binary classification quality at a threshold.
type Metrics struct {
	N                  int     // examples evaluated
	TP, FP, TN, FN     int     // confusion matrix counts
	Accuracy           float64 // (TP+TN)/N
	Precision, Recall  float64 // TP/(TP+FP), TP/(TP+FN)
	F1                 float64 // harmonic mean of precision and recall
	LogLoss            float64 // mean cross-entropy of the probabilities
	Threshold          float64 // decision threshold used
	PositiveRate       float64 // fraction of examples labeled positive
	PredictedPositives float64 // fraction predicted positive
}

// Evaluate scores examples with m and compares predictions (probability
// >= threshold) with the labels. Precision and recall are 0 when
// undefined (no predicted or no actual positives).
func Evaluate(m *Model, examples []Example, threshold float64) Metrics {
	mt := Metrics{N: len(examples), Threshold: threshold}
	for _, ex := range examples {
		p := m.Predict(ex.Text)
		pred := p >= threshold
		switch {
		case pred && ex.Label:
			mt.TP++
		case pred && !ex.Label:
			mt.FP++
		case !pred && ex.Label:
			mt.FN++
		default:
			mt.TN++
		}
		pc := math.Min(math.Max(p, 1e-15), 1-1e-15)
		if ex.Label {
			mt.LogLoss -= math.Log(pc)
		} else {
			mt.LogLoss -= math.Log(1 - pc)
		}
	}
	if mt.N == 0 {
		return mt
	}
	n := float64(mt.N)
	mt.Accuracy = float64(mt.TP+mt.TN) / n
	mt.LogLoss /= n
	mt.PositiveRate = float64(mt.TP+mt.FN) / n
	mt.PredictedPositives = float64(mt.TP+mt.FP) / n
	if mt.TP+mt.FP > 0 {
		mt.Precision = float64(mt.TP) / float64(mt.TP+mt.FP)
	}
	if mt.TP+mt.FN > 0 {
		mt.Recall = float64(mt.TP) / float64(mt.TP+mt.FN)
	}
	if mt.Precision+mt.Recall > 0 {
		mt.F1 = 2 * mt.Precision * mt.Recall / (mt.Precision + mt.Recall)
	}
	return mt
}

// String formats the headline metrics.
func (m Metrics) String() string {
	return fmt.Sprintf("n=%d acc=%.3f prec=%.3f rec=%.3f f1=%.3f logloss=%.3f (tp=%d fp=%d tn=%d fn=%d)",
		m.N, m.Accuracy, m.Precision, m.Recall, m.F1, m.LogLoss, m.TP, m.FP, m.TN, m.FN)
}

// InTestSplit reports whether the item with the given stable key belongs to
// the held-out split. Assignment depends only on key, fraction and seed, so
// it is stable across runs, orderings and machines.
func InTestSplit(key string, testFraction float64, seed uint64) bool {
	h := mix(hashWord(key) ^ mix(seed))
	return float64(h>>11)/(1<<53) < testFraction
}

// Split partitions items into train and test sets with InTestSplit,
// preserving order within each set.
func Split[T any](items []T, key func(T) string, testFraction float64, seed uint64) (train, test []T) {
	for _, it := range items {
		if InTestSplit(key(it), testFraction, seed) {
			test = append(test, it)
		} else {
			train = append(train, it)
		}
	}
	return train, test
}
