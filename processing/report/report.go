// Package report renders pipeline results: a score histogram as PNG
// (gonum/plot) and a self-contained HTML report (html/template) with
// per-step record counts, a timings table, summary metrics and the
// histogram, embedded as a data URI or linked by file name.
package report

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// HistogramOptions configures HistogramPNG. Zero fields take defaults.
type HistogramOptions struct {
	Title  string    // default "Score distribution"
	XLabel string    // default "score"
	Bins   int       // default 20
	Width  vg.Length // default 6in
	Height vg.Length // default 4in
	// Threshold is drawn as a dashed vertical line when ShowThreshold.
	Threshold     float64
	ShowThreshold bool // draw the Threshold line
	// Min and Max fix the x range and bin edges (e.g. 0 and 1 for
	// probabilities; out-of-range values go to the edge bins); when both
	// are zero the data range is used.
	Min, Max float64
}

// HistogramPNG draws a histogram of scores and writes it as PNG to w.
// Non-finite scores are ignored; at least one finite score is required.
func HistogramPNG(w io.Writer, scores []float64, opts HistogramOptions) error {
	if opts.Title == "" {
		opts.Title = "Score distribution"
	}
	if opts.XLabel == "" {
		opts.XLabel = "score"
	}
	if opts.Bins <= 0 {
		opts.Bins = 20
	}
	if opts.Width == 0 {
		opts.Width = 6 * vg.Inch
	}
	if opts.Height == 0 {
		opts.Height = 4 * vg.Inch
	}
	vals := make(plotter.Values, 0, len(scores))
	for _, s := range scores {
		if !math.IsNaN(s) && !math.IsInf(s, 0) {
			vals = append(vals, s)
		}
	}
	if len(vals) == 0 {
		return errors.New("report: no finite scores to plot")
	}
	p := plot.New()
	p.Title.Text = opts.Title
	p.X.Label.Text = opts.XLabel
	p.Y.Label.Text = "documents"
	var h *plotter.Histogram
	var err error
	if opts.Min != 0 || opts.Max != 0 {
		if !(opts.Min < opts.Max) {
			return fmt.Errorf("report: bad range [%v, %v]", opts.Min, opts.Max)
		}
		h, err = fixedHist(vals, opts.Bins, opts.Min, opts.Max)
		p.X.Min, p.X.Max = opts.Min, opts.Max
	} else {
		h, err = plotter.NewHist(vals, opts.Bins)
	}
	if err != nil {
		return fmt.Errorf("report: histogram: %w", err)
	}
	p.Add(h)
	if opts.ShowThreshold {
		var ymax float64
		for _, b := range h.Bins {
			ymax = math.Max(ymax, b.Weight)
		}
		line, err := plotter.NewLine(plotter.XYs{{X: opts.Threshold, Y: 0}, {X: opts.Threshold, Y: ymax}})
		if err != nil {
			return fmt.Errorf("report: threshold line: %w", err)
		}
		line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("threshold %.2f", opts.Threshold), line)
		p.Legend.Top = true
		p.Y.Min, p.Y.Max = 0, ymax*1.15 // headroom for the legend
	}
	wt, err := p.WriterTo(opts.Width, opts.Height, "png")
	if err != nil {
		return fmt.Errorf("report: render: %w", err)
	}
	_, err = wt.WriteTo(w)
	return err
}

// fixedHist bins vals into n equal bins spanning exactly [lo, hi],
// clamping out-of-range values into the edge bins.
func fixedHist(vals plotter.Values, n int, lo, hi float64) (*plotter.Histogram, error) {
	width := (hi - lo) / float64(n)
	// NewHistogram initializes the styles; its bins are replaced below.
	h, err := plotter.NewHistogram(plotter.XYs{{X: lo, Y: 0}, {X: hi, Y: 0}}, n)
	if err != nil {
		return nil, err
	}
	bins := make([]plotter.HistogramBin, n)
	for i := range bins {
		bins[i].Min = lo + float64(i)*width
		bins[i].Max = lo + float64(i+1)*width
	}
	for _, v := range vals {
		i := min(max(int((v-lo)/width), 0), n-1)
		bins[i].Weight++
	}
	h.Bins = bins
	h.Width = width
	return h, nil
}

// Step is one pipeline stage.
type Step struct {
	Name     string        // stage name
	In, Out  int64         // records consumed and produced
	Duration time.Duration // wall time
	Note     string        // free text (e.g. "cl100k_base, 4 workers")
}

// Kept is Out/In as a percentage (0 when In is 0).
func (s Step) Kept() float64 {
	if s.In == 0 {
		return 0
	}
	return 100 * float64(s.Out) / float64(s.In)
}

// RecordsPerSecond is In per second of Duration (0 if no duration).
func (s Step) RecordsPerSecond() float64 {
	if s.Duration <= 0 {
		return 0
	}
	return float64(s.In) / s.Duration.Seconds()
}

// Metric is a named summary value shown in the report.
type Metric struct {
	Name, Value string // label and preformatted value
}

// Report is the content of an HTML report.
type Report struct {
	Title     string    // page title and heading
	Generated time.Time // generation time; zero means now
	Steps     []Step    // pipeline stages, in order
	Metrics   []Metric  // summary values
	// HistogramPNG, if set, is embedded as a data URI.
	HistogramPNG []byte
	// HistogramHref, if set (and HistogramPNG is not), is linked as the
	// image source, e.g. "scores.png" next to the HTML file.
	HistogramHref string
}

// Total returns the summed duration of all steps.
func (r *Report) Total() time.Duration {
	var d time.Duration
	for _, s := range r.Steps {
		d += s.Duration
	}
	return d
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"dur":  func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"f1":   func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"f0":   func(f float64) string { return fmt.Sprintf("%.0f", f) },
	"when": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.8em; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p>Generated {{when .Generated}}. Total step time {{dur .Total}}.</p>
<h2>Steps</h2>
<table id="steps">
<tr><th>Step</th><th>In</th><th>Out</th><th>Kept %</th><th>Time</th><th>Records/s</th><th>Note</th></tr>
{{range .Steps}}<tr><td>{{.Name}}</td><td class="n">{{.In}}</td><td class="n">{{.Out}}</td><td class="n">{{f1 .Kept}}</td><td class="n">{{dur .Duration}}</td><td class="n">{{f0 .RecordsPerSecond}}</td><td>{{.Note}}</td></tr>
{{end}}</table>
{{if .Metrics}}<h2>Metrics</h2>
<table id="metrics">
{{range .Metrics}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
{{end}}{{with .ImgSrc}}<h2>Score histogram</h2>
<img id="histogram" alt="score histogram" src="{{.}}">
{{end}}</body>
</html>
`))

// WriteHTML renders the report. User-supplied strings are escaped.
func (r *Report) WriteHTML(w io.Writer) error {
	var src any
	switch {
	case len(r.HistogramPNG) > 0:
		src = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(r.HistogramPNG))
	case r.HistogramHref != "":
		src = r.HistogramHref // escaped and URL-sanitized by html/template
	}
	gen := r.Generated
	if gen.IsZero() {
		gen = time.Now()
	}
	data := struct {
		*Report
		Generated time.Time
		ImgSrc    any
	}{r, gen, src}
	var buf bytes.Buffer
	if err := page.Execute(&buf, data); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
