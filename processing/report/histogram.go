package report

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strconv"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// HistogramOptions configures HistogramPNG. Zero fields take defaults.
type HistogramOptions struct {
	Title  string // default "Score distribution"
	XLabel string // default "score"
	Bins   int    // default 20
	// Width and Height are the image's size in pixels (default 960 by 640: twice the size
	// the report shows it at, for sharp text on high-density screens).
	Width, Height int
	// Threshold is drawn as a dashed vertical line when ShowThreshold.
	Threshold     float64
	ShowThreshold bool // draw the Threshold line
	// Min and Max fix the x range and bin edges (e.g. 0 and 1 for
	// probabilities; out-of-range values go to the edge bins); when both
	// are zero the data range is used.
	Min, Max float64
}

// bin is one histogram bar: values in [Min, Max) (the last bin includes Max), Weight of them.
type bin struct {
	Min, Max, Weight float64
}

// HistogramPNG draws a histogram of scores and writes it as PNG to w: bars, both axes with
// ticks, the title and axis labels, and the threshold line with its legend. Non-finite
// scores are ignored; at least one finite score is required. The text is set in Go Regular,
// the one font the package embeds.
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
	if opts.Width <= 0 {
		opts.Width = 960
	}
	if opts.Height <= 0 {
		opts.Height = 640
	}
	vals := make([]float64, 0, len(scores))
	for _, s := range scores {
		if !math.IsNaN(s) && !math.IsInf(s, 0) {
			vals = append(vals, s)
		}
	}
	if len(vals) == 0 {
		return errors.New("report: no finite scores to plot")
	}
	lo, hi := opts.Min, opts.Max
	if lo != 0 || hi != 0 {
		if !(lo < hi) {
			return fmt.Errorf("report: bad range [%v, %v]", lo, hi)
		}
	} else {
		lo, hi = vals[0], vals[0]
		for _, v := range vals {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if lo == hi { // one distinct value: a unit-wide range around it
			lo, hi = lo-0.5, hi+0.5
		}
	}
	bins, err := fixedHist(vals, opts.Bins, lo, hi)
	if err != nil {
		return fmt.Errorf("report: histogram: %w", err)
	}
	img, err := drawHistogram(bins, lo, hi, opts)
	if err != nil {
		return fmt.Errorf("report: render: %w", err)
	}
	return png.Encode(w, img)
}

// fixedHist bins vals into n equal bins spanning exactly [lo, hi],
// clamping out-of-range values into the edge bins.
func fixedHist(vals []float64, n int, lo, hi float64) ([]bin, error) {
	if n < 1 || !(lo < hi) {
		return nil, fmt.Errorf("%d bins over [%v, %v]", n, lo, hi)
	}
	width := (hi - lo) / float64(n)
	bins := make([]bin, n)
	for i := range bins {
		bins[i].Min = lo + float64(i)*width
		bins[i].Max = lo + float64(i+1)*width
	}
	for _, v := range vals {
		i := min(max(int((v-lo)/width), 0), n-1)
		bins[i].Weight++
	}
	return bins, nil
}

// Colours of the chart.
var (
	inkColor       = color.RGBA{0x22, 0x22, 0x22, 0xff}
	gridColor      = color.RGBA{0xe4, 0xe4, 0xe4, 0xff}
	barColor       = color.RGBA{0x4c, 0x72, 0xb0, 0xff}
	barEdgeColor   = color.RGBA{0x2b, 0x4a, 0x7a, 0xff}
	thresholdColor = color.RGBA{0xb4, 0x23, 0x18, 0xff}
)

// goRegular is the parsed embedded font.
var goRegular = sync.OnceValues(func() (*opentype.Font, error) { return opentype.Parse(goregular.TTF) })

// canvas draws axis-aligned shapes and text on an RGBA image.
type canvas struct {
	img *image.RGBA
}

func (c canvas) fill(r image.Rectangle, col color.Color) {
	draw.Draw(c.img, r, image.NewUniform(col), image.Point{}, draw.Over)
}

// text draws s with its left end at x and its baseline at y.
func (c canvas) text(face font.Face, s string, x, y int) {
	d := font.Drawer{Dst: c.img, Src: image.NewUniform(inkColor), Face: face, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func textWidth(face font.Face, s string) int { return font.MeasureString(face, s).Ceil() }

// verticalText draws s rotated a quarter turn counter-clockwise, centred on (cx, cy).
func (c canvas) verticalText(face font.Face, s string, cx, cy int) {
	m := face.Metrics()
	w, h := textWidth(face, s), (m.Ascent + m.Descent).Ceil()
	tmp := canvas{image.NewRGBA(image.Rect(0, 0, w, h))}
	tmp.fill(tmp.img.Bounds(), color.White)
	tmp.text(face, s, 0, m.Ascent.Ceil())
	x0, y0 := cx-h/2, cy-w/2
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c.img.Set(x0+y, y0+w-1-x, tmp.img.At(x, y))
		}
	}
}

// drawHistogram lays out and draws the chart.
func drawHistogram(bins []bin, lo, hi float64, opts HistogramOptions) (*image.RGBA, error) {
	f, err := goRegular()
	if err != nil {
		return nil, err
	}
	unit := float64(opts.Height) / 640 // sizes below are for the default height
	face := func(pt float64) (font.Face, error) {
		return opentype.NewFace(f, &opentype.FaceOptions{Size: pt * unit, DPI: 72, Hinting: font.HintingFull})
	}
	titleFace, err := face(30)
	if err != nil {
		return nil, err
	}
	labelFace, err := face(24)
	if err != nil {
		return nil, err
	}
	tickFace, err := face(20)
	if err != nil {
		return nil, err
	}
	px := func(v float64) int { return int(math.Round(v * unit)) }

	var tallest float64
	for _, b := range bins {
		tallest = math.Max(tallest, b.Weight)
	}
	ytop := tallest * 1.05
	if opts.ShowThreshold {
		ytop = tallest * 1.15 // headroom for the legend
	}
	yTicks := niceTicks(0, ytop, 5)
	xTicks := niceTicks(lo, hi, 6)

	c := canvas{image.NewRGBA(image.Rect(0, 0, opts.Width, opts.Height))}
	c.fill(c.img.Bounds(), color.White)
	widest := 0
	for _, t := range yTicks {
		widest = max(widest, textWidth(tickFace, tickLabel(t, yTicks)))
	}
	// The plot area, inside margins for the title, the labels and the tick labels.
	area := image.Rect(px(60)+widest, px(70), opts.Width-px(30), opts.Height-px(100))
	if area.Dx() < 10 || area.Dy() < 10 {
		return nil, fmt.Errorf("image %dx%d too small for a chart", opts.Width, opts.Height)
	}
	xAt := func(v float64) int {
		return area.Min.X + int(math.Round((v-lo)/(hi-lo)*float64(area.Dx())))
	}
	yAt := func(v float64) int {
		return area.Max.Y - int(math.Round(v/ytop*float64(area.Dy())))
	}
	line := max(px(2), 1)

	for _, t := range yTicks { // grid lines, tick marks and labels of the y axis
		y := yAt(t)
		c.fill(image.Rect(area.Min.X, y, area.Max.X, y+1), gridColor)
		c.fill(image.Rect(area.Min.X-px(8), y, area.Min.X, y+line), inkColor)
		s := tickLabel(t, yTicks)
		c.text(tickFace, s, area.Min.X-px(12)-textWidth(tickFace, s), y+px(7))
	}
	for _, b := range bins {
		if b.Weight == 0 {
			continue
		}
		r := image.Rect(xAt(b.Min), yAt(b.Weight), xAt(b.Max), area.Max.Y)
		c.fill(r, barEdgeColor)
		c.fill(r.Inset(max(px(1), 1)), barColor)
	}
	for _, t := range xTicks { // tick marks and labels of the x axis
		x := xAt(t)
		c.fill(image.Rect(x, area.Max.Y, x+line, area.Max.Y+px(8)), inkColor)
		s := tickLabel(t, xTicks)
		c.text(tickFace, s, x-textWidth(tickFace, s)/2, area.Max.Y+px(32))
	}
	c.fill(image.Rect(area.Min.X-line, area.Min.Y, area.Min.X, area.Max.Y+line), inkColor) // y axis
	c.fill(image.Rect(area.Min.X-line, area.Max.Y, area.Max.X, area.Max.Y+line), inkColor) // x axis

	if opts.ShowThreshold && opts.Threshold >= lo && opts.Threshold <= hi {
		x, dash, gap := xAt(opts.Threshold), px(12), px(8)
		for y := yAt(tallest); y < area.Max.Y; y += dash + gap {
			c.fill(image.Rect(x-line/2, y, x-line/2+line, min(y+dash, area.Max.Y)), thresholdColor)
		}
		legend := "threshold " + strconv.FormatFloat(opts.Threshold, 'f', 2, 64)
		lx, ly := area.Max.X-px(24)-textWidth(labelFace, legend)-px(60), area.Min.Y+px(20)
		c.fill(image.Rect(lx, ly-line/2, lx+dash, ly-line/2+line), thresholdColor)
		c.fill(image.Rect(lx+dash+gap, ly-line/2, lx+2*dash+gap, ly-line/2+line), thresholdColor)
		c.text(labelFace, legend, lx+px(48), ly+px(8))
	}

	c.text(titleFace, opts.Title, (opts.Width-textWidth(titleFace, opts.Title))/2, px(44))
	c.text(labelFace, opts.XLabel, area.Min.X+(area.Dx()-textWidth(labelFace, opts.XLabel))/2, opts.Height-px(30))
	c.verticalText(labelFace, "documents", px(22), area.Min.Y+area.Dy()/2)
	return c.img, nil
}

// niceTicks returns about n evenly spaced round values in [lo, hi]: the multiples of a step
// of 1, 2 or 5 times a power of ten.
func niceTicks(lo, hi float64, n int) []float64 {
	raw := (hi - lo) / float64(max(n, 1))
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	step := pow
	for _, m := range []float64{1, 2, 5, 10} {
		if m*pow >= raw {
			step = m * pow
			break
		}
	}
	var ticks []float64
	for i := math.Floor(lo / step); ; i++ {
		t := i * step
		if t < lo-step/1e6 {
			continue
		}
		if t > hi+step/1e6 {
			break
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// tickLabel formats t with as many decimals as the ticks' step needs.
func tickLabel(t float64, ticks []float64) string {
	decimals := 0
	if len(ticks) > 1 {
		step := ticks[1] - ticks[0]
		decimals = max(0, int(math.Ceil(-math.Log10(step)-1e-9)))
	}
	if math.Abs(t) < 1e-12 {
		t = 0
	}
	return strconv.FormatFloat(t, 'f', decimals, 64)
}
