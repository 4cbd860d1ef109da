package quality

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// synthetic returns n documents mixing shared noise words (60%) with
// signal words drawn 80/20 from the document's own class vocabulary and the
// other one, so the classes are separable by majority vote of the signal
// words but not by any single word.
func synthetic(n int, seed uint64) []Example {
	rng := rand.New(rand.NewPCG(seed, 7))
	good := strings.Fields("river mountain forest history science music poetry garden language museum library ocean")
	bad := strings.Fields("casino viagra winner lottery bitcoin click discount offer cheap prize loan bonus")
	noise := strings.Fields("the a of and to in is it that for on with as was at by this be are from")
	out := make([]Example, n)
	for i := range out {
		label := rng.IntN(2) == 1
		var words []string
		for j := 0; j < 30+rng.IntN(30); j++ {
			switch r := rng.Float64(); {
			case r < 0.6:
				words = append(words, noise[rng.IntN(len(noise))])
			case (r < 0.92) == label:
				words = append(words, good[rng.IntN(len(good))])
			default:
				words = append(words, bad[rng.IntN(len(bad))])
			}
		}
		out[i] = Example{Text: strings.Join(words, " "), Label: label}
	}
	return out
}

func TestTrainSyntheticAccuracy(t *testing.T) {
	train, test := synthetic(2000, 1), synthetic(500, 2)
	for _, opts := range []TrainOptions{
		{Seed: 1},
		{Seed: 2, Bits: 12, Epochs: 3},
		{Seed: 3, Balance: true, L2: -1},
	} {
		m, err := Train(context.Background(), train, opts)
		if err != nil {
			t.Fatal(err)
		}
		mt := Evaluate(m, test, 0.5)
		t.Logf("%+v: %v", opts, mt)
		if mt.Accuracy <= 0.9 || mt.Precision <= 0.9 || mt.Recall <= 0.9 {
			t.Errorf("%+v: metrics too low: %v", opts, mt)
		}
	}
}

func TestTrainDeterministic(t *testing.T) {
	ex := synthetic(300, 5)
	a, _ := Train(context.Background(), ex, TrainOptions{Seed: 42, Bits: 14})
	b, _ := Train(context.Background(), ex, TrainOptions{Seed: 42, Bits: 14})
	c, _ := Train(context.Background(), ex, TrainOptions{Seed: 43, Bits: 14})
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different models")
	}
	if reflect.DeepEqual(a.Weights, c.Weights) {
		t.Fatal("different seeds gave identical weights")
	}
}

func TestTrainErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		ex   []Example
		opts TrainOptions
	}{
		{"empty", context.Background(), nil, TrainOptions{}},
		{"bits", context.Background(), synthetic(10, 1), TrainOptions{Bits: 31}},
		{"negative lr", context.Background(), synthetic(10, 1), TrainOptions{LearningRate: -1}},
		{"cancelled", ctx, synthetic(10, 1), TrainOptions{}},
	}
	for _, tc := range tests {
		if _, err := Train(tc.ctx, tc.ex, tc.opts); err == nil {
			t.Errorf("%s: want error", tc.name)
		}
	}
}

func TestEvaluate(t *testing.T) {
	// A model with a single positive weight on "good".
	m := &Model{Bits: 10, Weights: make([]float32, 1<<10), Bias: -1}
	for _, idx := range Featurize("good", 10).Index {
		m.Weights[idx] = 10
	}
	ex := []Example{
		{"good", true}, {"good", false}, {"bad", false}, {"bad", true}, {"bad", false},
	}
	mt := Evaluate(m, ex, 0.5)
	want := Metrics{N: 5, TP: 1, FP: 1, TN: 2, FN: 1, Accuracy: 0.6, Precision: 0.5, Recall: 0.5, F1: 0.5, Threshold: 0.5, PositiveRate: 0.4, PredictedPositives: 0.4}
	mt.LogLoss = 0
	if mt != want {
		t.Fatalf("got %+v\nwant %+v", mt, want)
	}
	if e := Evaluate(m, nil, 0.5); e.N != 0 || e.Accuracy != 0 {
		t.Fatalf("empty: %+v", e)
	}
	if !strings.Contains(mt.String(), "acc=0.600") {
		t.Fatal(mt.String())
	}
}

func TestFeaturize(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"Hello, World!", "hello world", true},
		{"func main() {\n\tx := 1\n}", "func main x 1", true},
		{"a b", "b a", false},
		{"Ünïcödé TEXT", "ünïcödé text", true},
	}
	for _, tc := range tests {
		va, vb := Featurize(tc.a, 18), Featurize(tc.b, 18)
		if reflect.DeepEqual(va, vb) != tc.same {
			t.Errorf("Featurize(%q) vs (%q): same=%v, want %v", tc.a, tc.b, !tc.same, tc.same)
		}
	}
	v := Featurize("x y x y x", 8)
	var norm float64
	for i, idx := range v.Index {
		if idx >= 1<<8 || (i > 0 && idx <= v.Index[i-1]) {
			t.Fatalf("bad index order %v", v.Index)
		}
		norm += float64(v.Value[i]) * float64(v.Value[i])
	}
	if math.Abs(norm-1) > 1e-5 {
		t.Fatalf("norm %v", norm)
	}
	if e := Featurize("  ...  ", 18); len(e.Index) != 0 {
		t.Fatal("empty text has features")
	}
}

func TestSaveLoad(t *testing.T) {
	m, err := Train(context.Background(), synthetic(200, 9), TrainOptions{Seed: 1, Bits: 12})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	got, err := Load(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatal("round trip changed the model")
	}
	for _, ex := range synthetic(20, 10) {
		if got.Predict(ex.Text) != m.Predict(ex.Text) {
			t.Fatal("predictions differ after round trip")
		}
	}
	// Every truncation and every single-bit flip must be rejected.
	for cut := 0; cut < len(data); cut++ {
		if _, err := Load(bytes.NewReader(data[:cut])); !errors.Is(err, ErrBadModel) {
			t.Fatalf("truncation at %d: %v", cut, err)
		}
	}
	for i := 0; i < len(data); i++ {
		for bit := 0; bit < 8; bit += 3 {
			bad := bytes.Clone(data)
			bad[i] ^= 1 << bit
			if _, err := Load(bytes.NewReader(bad)); !errors.Is(err, ErrBadModel) {
				t.Fatalf("flip at byte %d bit %d not detected: %v", i, bit, err)
			}
		}
	}
	if err := (&Model{Bits: 3, Weights: make([]float32, 5)}).Save(&buf); err == nil {
		t.Fatal("want error saving inconsistent model")
	}
}

func FuzzLoad(f *testing.F) {
	m, _ := Train(context.Background(), synthetic(20, 1), TrainOptions{Seed: 1, Bits: 6})
	var buf bytes.Buffer
	m.Save(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte(modelMagic + "\x01\x00\x00\x00\x1e\x00\x00\x00"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Load(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrBadModel) {
				t.Fatalf("error %v does not match ErrBadModel", err)
			}
			return
		}
		p := m.Predict("some text to score")
		if math.IsNaN(p) || p < 0 || p > 1 {
			t.Fatalf("bad probability %v", p)
		}
		var out bytes.Buffer
		if err := m.Save(&out); err != nil || !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("valid model did not re-save identically: %v", err)
		}
	})
}

func TestSplit(t *testing.T) {
	var ids []string
	for i := 0; i < 10000; i++ {
		ids = append(ids, fmt.Sprintf("doc-%d", i))
	}
	id := func(s string) string { return s }
	train, test := Split(ids, id, 0.2, 1)
	if len(train)+len(test) != len(ids) {
		t.Fatal("items lost")
	}
	if frac := float64(len(test)) / float64(len(ids)); frac < 0.18 || frac > 0.22 {
		t.Fatalf("test fraction %v", frac)
	}
	// Stable under reordering and subsetting.
	_, test2 := Split(ids[5000:], id, 0.2, 1)
	for _, s := range test2 {
		if !InTestSplit(s, 0.2, 1) {
			t.Fatal("unstable assignment")
		}
	}
	_, other := Split(ids, id, 0.2, 2)
	if reflect.DeepEqual(test, other) {
		t.Fatal("seed has no effect")
	}
	if _, none := Split(ids, id, 0, 1); len(none) != 0 {
		t.Fatal("fraction 0 produced test items")
	}
}

const prose = `The garbage collector reclaims memory that is no longer reachable. It runs concurrently with the program, so pauses stay short. Most programs never need to tune it. When they do, the GOGC setting trades memory for CPU time. Higher values collect less often and use more memory.`

const code = `func collect(heap []*object) int {
	n := 0
	for _, o := range heap {
		if !o.reachable() {
			o.free(); n++
		}
	}
	return n
}`

func TestLabel(t *testing.T) {
	tests := []struct {
		name string
		text string
		want bool
	}{
		{"prose", prose, true},
		{"code", code, false},
		{"short", "Too short to judge.", false},
		{"no sentences", strings.Repeat("word ", 100), false},
		{"lowercase sentences", strings.ToLower(prose), false},
		{"indented listing", "    " + strings.ReplaceAll(prose, ". ", ".\n    "), false},
		{"flag table", strings.Repeat("--verbose=<level> [-x|--extra] {a,b}\n", 20), false},
	}
	for _, tc := range tests {
		if got := Label(tc.text); got != tc.want {
			t.Errorf("%s: Label = %v, want %v (%+v)", tc.name, got, tc.want, Measure(tc.text))
		}
	}
}

// TestLabelNotAFunctionOfFeatures demonstrates the honesty argument: the
// same words with different punctuation and layout get identical feature
// vectors but different labels, so the label cannot be read off the
// classifier's input.
func TestLabelNotAFunctionOfFeatures(t *testing.T) {
	words := Words(prose)
	asCode := ""
	for i, w := range words {
		if i%6 == 0 {
			asCode += "\n\t"
		}
		asCode += w + "(); "
	}
	if !reflect.DeepEqual(Featurize(prose, DefaultBits), Featurize(asCode, DefaultBits)) {
		t.Fatal("features differ; test premise broken")
	}
	if Label(prose) == Label(asCode) {
		t.Fatalf("labels equal (%v) for identical features", Label(prose))
	}
}

func TestMeasure(t *testing.T) {
	s := Measure("Hello world. This is it!\n\tcode{};\n")
	if s.Sentences != 2 || s.Lines != 2 || s.IndentFrac != 0.5 || s.Words != 6 || s.CapStartFrac != 1 {
		t.Fatalf("%+v", s)
	}
	if z := Measure(""); z != (TextStats{WordsPerSent: 0}) {
		t.Fatalf("%+v", z)
	}
}

func TestWordHashesMatchWords(t *testing.T) {
	for _, text := range []string{"", "Hello, Wörld! ÀB_c 42x", "ǅemal İstanbul ΣΑΣ", "tail"} {
		var got []uint64
		eachWordHash(text, func(h uint64) { got = append(got, h) })
		var want []uint64
		for _, w := range Words(text) {
			want = append(want, hashWord(w))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: hashes %v, want %v (words %q)", text, got, want, Words(text))
		}
	}
}
