package quality

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/fray-go/fray/processing/corpus"
)

var (
	realOnce sync.Once
	realDocs []corpus.Document
)

// loadReal returns a few hundred real documents per source, or skips.
func loadReal(tb testing.TB) []corpus.Document {
	tb.Helper()
	if _, err := os.Stat(filepath.Join(corpus.GoRoot(), "src", "fmt")); err != nil {
		tb.Skip("no GOROOT sources")
	}
	realOnce.Do(func() {
		realDocs, _ = corpus.Collect(context.Background(), corpus.Options{MaxPerSource: 400, MaxTextBytes: 64 << 10})
	})
	if len(realDocs) == 0 {
		tb.Skip("empty corpus")
	}
	return realDocs
}

// TestCorpusLabelAndTrain runs the intended pipeline on real text: label
// with Label, split by document ID, train on the words only, evaluate on
// the held-out split.
func TestCorpusLabelAndTrain(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	docs := loadReal(t)
	type item struct {
		id string
		ex Example
	}
	var items []item
	perSource := map[string][2]int{}
	for _, d := range docs {
		l := Label(d.Text)
		c := perSource[d.Source]
		c[0]++
		if l {
			c[1]++
		}
		perSource[d.Source] = c
		items = append(items, item{d.ID, Example{Text: d.Text, Label: l}})
	}
	t.Logf("docs / positives per source: %v", perSource)
	train, test := Split(items, func(it item) string { return it.id }, 0.2, 7)
	exs := func(its []item) []Example {
		out := make([]Example, len(its))
		for i, it := range its {
			out[i] = it.ex
		}
		return out
	}
	m, err := Train(context.Background(), exs(train), TrainOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	mt := Evaluate(m, exs(test), 0.5)
	t.Logf("held-out: %v", mt)
	if mt.Accuracy < 0.75 {
		t.Errorf("held-out accuracy %.3f < 0.75", mt.Accuracy)
	}
}
