// Package report renders pipeline results: a score histogram as PNG (drawn with the
// standard library's image packages and golang.org/x/image's font rendering, in the one
// embedded font, Go Regular) and a self-contained HTML report (html/template) with a steps
// table (per-step figures, times and links to each step's output), summary metrics, sample
// documents that were kept and dropped with their scores, and the histogram, embedded as a
// data URI or linked by name.
//
// Each step shows only the figures that apply to it; a column without one shows "—":
//
//	r := &report.Report{
//		Title:   "my pipeline",
//		Columns: []string{"docs in", "kept", "dropped"},
//		Steps: []report.Step{
//			{Name: "ingest", Duration: time.Second, Href: "../ingest-1aefb3/", Output: "ingest-1aefb3/"},
//			{Name: "filter", Figures: map[string]string{
//				"docs in": report.Count(1000), "kept": report.Share(420, 1000), "dropped": report.Share(580, 1000)}},
//		},
//		Samples: []report.Sample{{ID: "doc-1", Score: 0.93, Kept: true, Excerpt: report.Excerpt(text, 200)}},
//	}
//	var png bytes.Buffer
//	err := report.HistogramPNG(&png, scores, report.HistogramOptions{Min: 0, Max: 1, Threshold: 0.5, ShowThreshold: true})
//	r.HistogramPNG = png.Bytes()
//	err = r.WriteHTML(w)
package report

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Step is one pipeline step: a row of the report's steps table.
type Step struct {
	Name     string        // step name
	Duration time.Duration // wall time
	Note     string        // free text (e.g. "cl100k_base, 4 workers")
	// Output names where the step's output is (a directory, shown as text), and Href links
	// it: a path relative to the report ("../ingest-1aefb3/") or an absolute local path.
	// Links are sanitized by html/template: a scheme other than http(s) is not linked.
	Output, Href string
	// Figures are the step's numbers by column label (see Report.Columns), preformatted
	// (Count, Bytes, Share). A column the step has no figure for shows "—": a step that
	// keeps no documents has no "kept" number rather than a misleading one.
	Figures map[string]string
}

// Sample is a document shown as an example of what a filter kept or dropped.
type Sample struct {
	ID, Source, Title string
	Score             float64
	Kept              bool
	Excerpt           string // the start of the text; Excerpt shortens one
}

// Metric is a named summary value shown in the report.
type Metric struct {
	Name, Value string // label and preformatted value
}

// Report is the content of an HTML report.
type Report struct {
	Title     string    // page title and heading
	Generated time.Time // generation time; zero means now
	// Columns are the figure columns of the steps table, in order, between the step name
	// and its time. Nil means every label used by a step's Figures, in order of first use
	// (each step's labels sorted).
	Columns []string
	Steps   []Step   // pipeline steps, in order
	Metrics []Metric // summary values
	// Samples are example documents, shown in two tables (kept, dropped) in the given
	// order; KeptRule and DroppedRule say what decided (e.g. "score ≥ 0.5", "score < 0.5").
	Samples               []Sample
	KeptRule, DroppedRule string
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

// Count formats n with thousands separators: 1234567 → "1,234,567".
func Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Bytes formats a size in bytes with a decimal unit: 1536 → "1.5 kB".
func Bytes(n int64) string {
	if n < 1000 && n > -1000 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	for _, unit := range []string{"kB", "MB", "GB", "TB"} {
		v /= 1000
		if math.Abs(v) < 1000 || unit == "TB" {
			return fmt.Sprintf("%.1f %s", v, unit)
		}
	}
	return "" // unreachable
}

// Share formats part of whole as a count and a percentage: "420 (42.0%)". A zero whole
// gives the count alone.
func Share(part, whole int64) string {
	if whole == 0 {
		return Count(part)
	}
	return fmt.Sprintf("%s (%.1f%%)", Count(part), 100*float64(part)/float64(whole))
}

// Excerpt returns the first max runes of text with runs of white space collapsed, and "…"
// when it was cut.
func Excerpt(text string, max int) string {
	words := strings.Fields(text)
	var b strings.Builder
	n := 0
	for _, w := range words {
		if n > 0 {
			b.WriteByte(' ')
			n++
		}
		for _, r := range w {
			if n >= max {
				return strings.TrimSpace(b.String()) + "…"
			}
			b.WriteRune(r)
			n++
		}
	}
	return b.String()
}

// columns returns the figure columns: r.Columns, or those the steps use.
func (r *Report) columns() []string {
	if r.Columns != nil {
		return r.Columns
	}
	var cols []string
	seen := map[string]bool{}
	for _, s := range r.Steps {
		keys := make([]string, 0, len(s.Figures))
		for k := range s.Figures {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !seen[k] {
				seen[k] = true
				cols = append(cols, k)
			}
		}
	}
	return cols
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"dur":  func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"f3":   func(f float64) string { return fmt.Sprintf("%.3f", f) },
	"when": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"fig": func(s Step, col string) string {
		if v, ok := s.Figures[col]; ok && v != "" {
			return v
		}
		return "—"
	},
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em 2em; color: #222; max-width: 80em; }
h1 { margin-bottom: 0.2em; }
h2 { margin: 1.2em 0 0.3em; font-size: 1.2em; }
p.sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; vertical-align: top; }
th { background: #f3f3f3; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.na { text-align: center; color: #999; }
td.ex { font-size: 0.85em; color: #444; max-width: 42em; }
td.kept { color: #1a7f37; } td.dropped { color: #b42318; }
.cols { display: flex; gap: 2em; flex-wrap: wrap; align-items: flex-start; }
code, a.out { font-family: ui-monospace, monospace; font-size: 0.9em; }
td.out, #steps td:first-child { white-space: nowrap; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="sub">Generated {{when .Generated}}. Total step time {{dur .Total}}.</p>
<h2>Steps</h2>
<table id="steps">
<tr><th>Step</th>{{range .Cols}}<th>{{.}}</th>{{end}}<th>Time</th><th>Output</th><th>Note</th></tr>
{{range $s := .Steps}}<tr><td>{{$s.Name}}</td>{{range $.Cols}}{{$v := fig $s .}}<td class="{{if eq $v "—"}}na{{else}}n{{end}}">{{$v}}</td>{{end}}<td class="n">{{dur $s.Duration}}</td><td class="out">{{if $s.Href}}<a class="out" href="{{$s.Href}}">{{$s.Output}}</a>{{else}}<code>{{$s.Output}}</code>{{end}}</td><td>{{$s.Note}}</td></tr>
{{end}}</table>
<div class="cols">
{{if .Metrics}}<div><h2>Metrics</h2>
<table id="metrics">
{{range .Metrics}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</table></div>
{{end}}{{with .ImgSrc}}<div><h2>Score histogram</h2>
<img id="histogram" alt="score histogram" width="480" src="{{.}}"></div>
{{end}}</div>
{{if .Samples}}{{range $kept := .Kinds}}<h2>{{if $kept}}Kept documents{{with $.KeptRule}} ({{.}}){{end}}{{else}}Dropped documents{{with $.DroppedRule}} ({{.}}){{end}}{{end}}</h2>
<table id="{{if $kept}}kept{{else}}dropped{{end}}">
<tr><th>Score</th><th>Source</th><th>Document</th><th>Beginning of the text</th></tr>
{{range $.Samples}}{{if eq .Kept $kept}}<tr><td class="n {{if .Kept}}kept{{else}}dropped{{end}}">{{f3 .Score}}</td><td>{{.Source}}</td><td>{{if .Title}}{{.Title}}<br>{{end}}<code>{{.ID}}</code></td><td class="ex">{{.Excerpt}}</td></tr>
{{end}}{{end}}</table>
{{end}}{{end}}</body>
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
		Cols      []string
		Kinds     []bool
	}{r, gen, src, r.columns(), []bool{true, false}}
	var buf bytes.Buffer
	if err := page.Execute(&buf, data); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
