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
	for _, b := range h {
		got = append(got, b.Weight)
	}
	want := []float64{3, 0, 1, 3}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("bins %v, want %v", got, want)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Count(0), "0"}, {Count(999), "999"}, {Count(1000), "1,000"}, {Count(1234567), "1,234,567"}, {Count(-12345), "-12,345"},
		{Bytes(512), "512 B"}, {Bytes(1536), "1.5 kB"}, {Bytes(9_100_000), "9.1 MB"}, {Bytes(3 << 40), "3.3 TB"},
		{Share(420, 1000), "420 (42.0%)"}, {Share(0, 1000), "0 (0.0%)"}, {Share(5, 0), "5"},
		{Excerpt("  one\n\ttwo   three ", 100), "one two three"}, {Excerpt("abcdef ghi", 4), "abcd…"}, {Excerpt("ab cd", 3), "ab…"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestWriteHTML(t *testing.T) {
	var img bytes.Buffer
	if err := HistogramPNG(&img, []float64{0.1, 0.2, 0.9}, HistogramOptions{Min: 0, Max: 1}); err != nil {
		t.Fatal(err)
	}
	steps := []Step{
		{Name: "corpus", Duration: 1500 * time.Millisecond, Figures: map[string]string{"docs out": Count(1000), "bytes": Bytes(2_500_000)},
			Output: "corpus-1aefb3/", Href: "../corpus-1aefb3/"},
		{Name: "quality <filter>", Duration: 250 * time.Millisecond, Note: "threshold 0.5 & up",
			Figures: map[string]string{"docs in": Count(1000), "kept": Share(420, 1000), "dropped": Share(580, 1000)},
			Output:  "gs://bucket/filter", Href: "javascript:alert(1)"},
	}
	cols := []string{"docs in", "docs out", "kept", "dropped", "bytes"}
	samples := []Sample{
		{ID: "doc-1", Source: "man", Title: "ls(1)", Score: 0.93, Kept: true, Excerpt: "list <directory> contents"},
		{ID: "doc-2", Source: "go-source", Score: 0.12, Kept: false, Excerpt: "package main"},
	}
	tests := []struct {
		name      string
		r         Report
		want, not []string
	}{
		{
			name: "embedded",
			r: Report{Title: "Run <1>", Generated: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Steps: steps, Columns: cols,
				Metrics: []Metric{{"accuracy", "0.93"}}, HistogramPNG: img.Bytes(), Samples: samples, KeptRule: "score ≥ 0.5", DroppedRule: "score < 0.5"},
			want: []string{"<title>Run &lt;1&gt;</title>", "2026-01-02T03:04:05Z", "quality &lt;filter&gt;", "threshold 0.5 &amp; up",
				// The header follows Columns; each step shows only its own figures, "—" elsewhere.
				"<th>Step</th><th>docs in</th><th>docs out</th><th>kept</th><th>dropped</th><th>bytes</th><th>Time</th>",
				`<td>corpus</td><td class="na">—</td><td class="n">1,000</td><td class="na">—</td><td class="na">—</td><td class="n">2.5 MB</td>`,
				`<td class="n">1,000</td><td class="na">—</td><td class="n">420 (42.0%)</td><td class="n">580 (58.0%)</td><td class="na">—</td>`,
				"1.75s", "<th>accuracy</th><td>0.93</td>",
				`<a class="out" href="../corpus-1aefb3/">corpus-1aefb3/</a>`,
				"Kept documents (score ≥ 0.5)", "Dropped documents (score &lt; 0.5)",
				`<td class="n kept">0.930</td><td>man</td><td>ls(1)<br><code>doc-1</code></td><td class="ex">list &lt;directory&gt; contents</td>`,
				`<td class="n dropped">0.120</td><td>go-source</td><td><code>doc-2</code></td>`,
				`src="data:image/png;base64,` + base64.StdEncoding.EncodeToString(img.Bytes())[:40]},
			not: []string{"<filter>", "<directory>", "javascript:", "0.1</td>", "Kept %"},
		},
		{
			// Without Columns, the columns are the labels the steps use, in order of first use.
			name: "derived columns",
			r:    Report{Title: "t", Steps: steps},
			want: []string{"<th>Step</th><th>bytes</th><th>docs out</th><th>docs in</th><th>dropped</th><th>kept</th><th>Time</th>"},
		},
		{
			name: "linked",
			r:    Report{Title: "t", Steps: steps, HistogramHref: "scores.png"},
			want: []string{`src="scores.png"`},
			not:  []string{"Metrics", "data:image", "Kept documents"},
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

func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		n      int
		want   []float64
		labels []string
	}{
		{0, 1, 6, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}, []string{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}},
		{0, 57, 5, []float64{0, 20, 40}, []string{"0", "20", "40"}},
		{0, 3.15, 5, []float64{0, 1, 2, 3}, []string{"0", "1", "2", "3"}},
		{2.5, 120.5, 6, []float64{20, 40, 60, 80, 100, 120}, nil},
		{-0.3, 0.3, 3, []float64{-0.2, 0, 0.2}, []string{"-0.2", "0.0", "0.2"}},
	} {
		got := niceTicks(tc.lo, tc.hi, tc.n)
		if len(got) != len(tc.want) {
			t.Errorf("niceTicks(%v, %v, %d) = %v, want %v", tc.lo, tc.hi, tc.n, got, tc.want)
			continue
		}
		for i := range got {
			if math.Abs(got[i]-tc.want[i]) > 1e-9 {
				t.Errorf("niceTicks(%v, %v, %d) = %v, want %v", tc.lo, tc.hi, tc.n, got, tc.want)
				break
			}
		}
		for i, l := range tc.labels {
			if s := tickLabel(got[i], got); s != l {
				t.Errorf("tickLabel(%v) = %q, want %q", got[i], s, l)
			}
		}
	}
}

// TestHistogramPixels: the chart has the asked size, bars in the bar colour and, when asked,
// the threshold line in its colour at the threshold's x.
func TestHistogramPixels(t *testing.T) {
	var buf bytes.Buffer
	scores := []float64{0.1, 0.1, 0.3, 0.7, 0.9}
	if err := HistogramPNG(&buf, scores, HistogramOptions{Min: 0, Max: 1, Bins: 10, Threshold: 0.5, ShowThreshold: true, Width: 480, Height: 320}); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 480 || b.Dy() != 320 {
		t.Fatalf("size %v, want 480x320", b)
	}
	count := map[[3]uint32]int{}
	for y := 0; y < 320; y++ {
		for x := 0; x < 480; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			count[[3]uint32{r >> 8, g >> 8, b >> 8}]++
		}
	}
	bar := [3]uint32{uint32(barColor.R), uint32(barColor.G), uint32(barColor.B)}
	red := [3]uint32{uint32(thresholdColor.R), uint32(thresholdColor.G), uint32(thresholdColor.B)}
	if count[bar] < 500 || count[red] < 50 {
		t.Errorf("%d bar pixels and %d threshold pixels, want bars and a threshold line", count[bar], count[red])
	}
}
