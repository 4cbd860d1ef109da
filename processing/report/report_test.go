package report

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHistogramPNG(t *testing.T) {
	scores := make([]float64, 1000)
	for i := range scores {
		scores[i] = math.Mod(float64(i)*0.618, 1)
	}
	tests := []struct {
		name    string
		scores  []float64
		opts    HistogramOptions
		wantErr bool
	}{
		{name: "default", scores: scores},
		{name: "fixed range threshold", scores: append([]float64{-3, 7, math.NaN()}, scores...), opts: HistogramOptions{Min: 0, Max: 1, Bins: 10, Threshold: 0.5, ShowThreshold: true, Title: "P(high quality)"}},
		{name: "single value", scores: []float64{0.5, 0.5}},
		{name: "empty", scores: nil, wantErr: true},
		{name: "only NaN", scores: []float64{math.NaN(), math.Inf(1)}, wantErr: true},
		{name: "bad range", scores: scores, opts: HistogramOptions{Min: 1, Max: 0.5}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := HistogramPNG(&buf, tc.scores, tc.opts)
			if tc.wantErr {
				if err == nil {
					t.Fatal("want error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(&buf)
			if err != nil {
				t.Fatalf("output is not a PNG: %v", err)
			}
			if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
				t.Fatalf("image too small: %v", b)
			}
		})
	}
}

func TestFixedHistCounts(t *testing.T) {
	h, err := fixedHist([]float64{-1, 0, 0.1, 0.5, 0.99, 1, 2}, 4, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []float64
	for _, b := range h.Bins {
		got = append(got, b.Weight)
	}
	want := []float64{3, 0, 1, 3}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("bins %v, want %v", got, want)
		}
	}
}

func TestStep(t *testing.T) {
	tests := []struct {
		s          Step
		kept, rate float64
	}{
		{Step{In: 200, Out: 50, Duration: 2 * time.Second}, 25, 100},
		{Step{}, 0, 0},
	}
	for _, tc := range tests {
		if tc.s.Kept() != tc.kept || tc.s.RecordsPerSecond() != tc.rate {
			t.Errorf("%+v: kept %v rate %v", tc.s, tc.s.Kept(), tc.s.RecordsPerSecond())
		}
	}
}

func TestWriteHTML(t *testing.T) {
	var img bytes.Buffer
	if err := HistogramPNG(&img, []float64{0.1, 0.2, 0.9}, HistogramOptions{Min: 0, Max: 1}); err != nil {
		t.Fatal(err)
	}
	steps := []Step{
		{Name: "corpus", In: 1000, Out: 1000, Duration: 1500 * time.Millisecond},
		{Name: "quality <filter>", In: 1000, Out: 420, Duration: 250 * time.Millisecond, Note: "threshold 0.5 & up"},
	}
	tests := []struct {
		name      string
		r         Report
		want, not []string
	}{
		{
			name: "embedded",
			r: Report{Title: "Run <1>", Generated: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Steps: steps,
				Metrics: []Metric{{"accuracy", "0.93"}}, HistogramPNG: img.Bytes()},
			want: []string{"<title>Run &lt;1&gt;</title>", "2026-01-02T03:04:05Z", "quality &lt;filter&gt;", "threshold 0.5 &amp; up",
				`<td class="n">42.0</td>`, `<td class="n">4000</td>`, "1.75s", "<th>accuracy</th><td>0.93</td>",
				`src="data:image/png;base64,` + base64.StdEncoding.EncodeToString(img.Bytes())[:40]},
			not: []string{"<filter>"},
		},
		{
			name: "linked",
			r:    Report{Title: "t", Steps: steps, HistogramHref: "scores.png"},
			want: []string{`src="scores.png"`},
			not:  []string{"Metrics", "data:image"},
		},
		{
			name: "unsafe link",
			r:    Report{Title: "t", HistogramHref: "javascript:alert(1)"},
			not:  []string{"javascript:"},
		},
		{
			name: "no image",
			r:    Report{Title: "t"},
			not:  []string{"<img"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tc.r.WriteHTML(&buf); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("missing %q in\n%s", w, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("unexpected %q in output", n)
				}
			}
		})
	}
	if os.Getenv("REPORT_OUT") != "" {
		r := Report{Title: "demo", Steps: steps, HistogramPNG: img.Bytes()}
		f, _ := os.Create(filepath.Join(os.Getenv("REPORT_OUT"), "report.html"))
		r.WriteHTML(f)
		f.Close()
	}
}
