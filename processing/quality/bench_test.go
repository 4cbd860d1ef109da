package quality

import (
	"context"
	"testing"
)

func benchModel(b *testing.B) (*Model, []string) {
	docs := loadReal(b)
	var texts []string
	var ex []Example
	for _, d := range docs {
		texts = append(texts, d.Text)
		ex = append(ex, Example{Text: d.Text, Label: Label(d.Text)})
	}
	m, err := Train(context.Background(), ex, TrainOptions{Seed: 1, Epochs: 2})
	if err != nil {
		b.Fatal(err)
	}
	return m, texts
}

// BenchmarkPredict measures inference (featurize + score) on real
// documents, one goroutine.
func BenchmarkPredict(b *testing.B) {
	m, texts := benchModel(b)
	var n, bytes int
	b.ResetTimer()
	for b.Loop() {
		t := texts[n%len(texts)]
		_ = m.Predict(t)
		bytes += len(t)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(bytes)/b.Elapsed().Seconds()/1e6, "MB/s")
}

// BenchmarkPredictParallel runs inference on all CPUs.
func BenchmarkPredictParallel(b *testing.B) {
	m, texts := benchModel(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_ = m.Predict(texts[i%len(texts)])
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkLabel measures the labeling heuristic.
func BenchmarkLabel(b *testing.B) {
	_, texts := benchModel(b)
	n := 0
	b.ResetTimer()
	for b.Loop() {
		_ = Label(texts[n%len(texts)])
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkTrainEpoch measures SGD training throughput on synthetic data.
func BenchmarkTrainEpoch(b *testing.B) {
	ex := synthetic(2000, 1)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Train(context.Background(), ex, TrainOptions{Seed: 1, Epochs: 1}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(ex))/b.Elapsed().Seconds(), "records/s")
}
