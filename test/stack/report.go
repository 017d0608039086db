package stack

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Trace is one release as a Recorder saw it, from the release to its end.
type Trace struct {
	Title   string // such as "v2 (healthy)"
	Outcome string // such as "Succeeded: promoted 7f9c2a1b3d"
	Samples []Sample
}

// Curves are a trace's plotted values over time, in seconds since the release and percent.
type Curves struct {
	T, Weight, Share, Errors []float64 // Share and Errors are NaN where nothing was measured
}

// smoothing is the window the measured share and error rate are computed over: long enough
// to hold a few requests to a 5% canary, short enough to show each step.
const smoothing = 2 * time.Second

// CurvesOf computes the curves of a trace.
func CurvesOf(samples []Sample) Curves {
	var c Curves
	if len(samples) == 0 {
		return c
	}
	start, j := samples[0].At, 0
	for i, s := range samples {
		for j < i && s.At.Sub(samples[j].At) > smoothing {
			j++
		}
		share, errs := math.NaN(), math.NaN()
		if j < i {
			w := Between(samples[j], s)
			if v := w.CanaryShare(); v >= 0 {
				share = v
			}
			if v := w.CanaryErrorRate(); v >= 0 {
				errs = v
			}
		}
		c.T = append(c.T, s.At.Sub(start).Seconds())
		c.Weight = append(c.Weight, float64(s.Weight))
		c.Share = append(c.Share, share)
		c.Errors = append(c.Errors, errs)
	}
	return c
}

// WriteReport writes demo-report.html (the plots as SVG, with a table of the steps) and
// demo-report.png (the same plots) into dir and returns their paths.
func WriteReport(dir string, traces []Trace) (htmlPath, pngPath string, err error) {
	if len(traces) == 0 {
		return "", "", errors.New("stack: a report needs a trace")
	}
	width, height := pixels(960), pixels(300*len(traces))
	svg := vgsvg.New(width, height)
	img := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(dpi))
	for _, c := range []vg.CanvasSizer{svg, img} {
		page := draw.New(c)
		tiles := draw.Tiles{Rows: len(traces), Cols: 1, PadTop: 8, PadBottom: 4, PadLeft: 4, PadRight: 8, PadY: 16}
		for i, tr := range traces {
			drawPanel(tiles.At(page, 0, i), tr, CurvesOf(tr.Samples))
		}
	}
	var pngData, svgData bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&pngData); err != nil {
		return "", "", err
	}
	if _, err := svg.WriteTo(&svgData); err != nil {
		return "", "", err
	}
	pngPath = filepath.Join(dir, "demo-report.png")
	if err := os.WriteFile(pngPath, pngData.Bytes(), 0o644); err != nil {
		return "", "", err
	}
	// The SVG goes inline into the page, without its XML declaration.
	inline := svgData.String()
	inline = inline[strings.Index(inline, "<svg"):]
	htmlPath = filepath.Join(dir, "demo-report.html")
	return htmlPath, pngPath, os.WriteFile(htmlPath, []byte(reportPage(traces, inline)), 0o644)
}

func reportPage(traces []Trace, svg string) string {
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Tranche demo</title></head>\n")
	b.WriteString("<body style=\"font-family: sans-serif; max-width: 980px; margin: 2em auto\">\n<h1>Tranche demo</h1>\n")
	b.WriteString("<p>For each release: the canary weight Tranche set (blue), the canary's share of the requests " +
		"Traefik counted (green), and the canary's error rate (red) against the most the analysis allows (dashed), " +
		"over the seconds since the release. Share and error rate are measured over the last 2 s.</p>\n")
	b.WriteString(svg)
	for _, tr := range traces {
		fmt.Fprintf(&b, "<h2>%s</h2>\n<p>%s</p>\n<table border=\"1\" cellpadding=\"4\" style=\"border-collapse: collapse\">\n", html.EscapeString(tr.Title), html.EscapeString(tr.Outcome))
		b.WriteString("<tr><th>from (s)</th><th>to (s)</th><th>phase</th><th>weight set</th><th>canary share measured</th><th>canary requests</th><th>canary errors</th></tr>\n")
		for _, st := range StepsOf(tr.Samples) {
			w := st.Window
			fmt.Fprintf(&b, "<tr><td>%.1f</td><td>%.1f</td><td>%s</td><td>%d%%</td><td>%s</td><td>%.0f</td><td>%.0f</td></tr>\n",
				w.From.At.Sub(tr.Samples[0].At).Seconds(), w.To.At.Sub(tr.Samples[0].At).Seconds(), w.To.Phase, st.Weight,
				percent(w.CanaryShare()), w.Canary, w.CanaryFail)
		}
		b.WriteString("</table>\n")
		if decisions := DecisionsOf(tr.Samples); len(decisions) > 0 {
			b.WriteString("<p>What each check decided, in seconds since the release:</p>\n<ul>\n")
			for _, m := range decisions {
				fmt.Fprintf(&b, "<li>%s</li>\n", html.EscapeString(m.Summary()))
			}
			b.WriteString("</ul>\n")
		}
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

func percent(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", v)
}

// Step is a stretch of samples during which Tranche kept the same canary weight.
type Step struct {
	Weight int32
	Window Window
}

// StepsOf splits samples where the weight Tranche set changes. Each step's window starts at
// the last sample of the step before, so that no request between two samples is left out.
func StepsOf(samples []Sample) []Step {
	var steps []Step
	start := 0
	for i := 1; i <= len(samples); i++ {
		if i == len(samples) || samples[i].Weight != samples[start].Weight {
			from := max(start-1, 0)
			steps = append(steps, Step{Weight: samples[start].Weight, Window: Between(samples[from], samples[i-1])})
			start = i
		}
	}
	return steps
}

// dpi is the PNG's resolution: at 96 dots an inch, a point is 4/3 of a pixel.
const dpi = 96

func pixels(n int) vg.Length { return vg.Length(n) * vg.Inch / dpi }

// Colours of the curves, the same in both images.
var (
	weightColor    = color.RGBA{0x1f, 0x5f, 0xbf, 0xff}
	shareColor     = color.RGBA{0x2c, 0xa0, 0x2c, 0xff}
	errorColor     = color.RGBA{0xd6, 0x27, 0x28, 0xff}
	thresholdColor = color.RGBA{0x8c, 0x1c, 0x1c, 0xff}
	gridColor      = color.RGBA{0xd4, 0xd4, 0xd4, 0xff}
)

// drawPanel draws one trace: percent on the vertical axis, seconds since the release on the
// horizontal one, the legend to the right.
func drawPanel(c draw.Canvas, tr Trace, cv Curves) {
	sans := font.Font{Typeface: "Liberation", Variant: "Sans"}
	p := plot.New()
	p.Title.Text = tr.Title + " - " + tr.Outcome
	p.Title.TextStyle.Font = font.From(sans, 11)
	p.Title.Padding = 6
	p.X.Label.Text, p.Y.Label.Text = "seconds since the release", "percent"
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 9)
		a.Tick.Label.Font = font.From(sans, 9)
	}
	p.Y.Tick.Marker = plot.ConstantTicks{{Value: 0, Label: "0%"}, {Value: 25, Label: "25%"},
		{Value: 50, Label: "50%"}, {Value: 75, Label: "75%"}, {Value: 100, Label: "100%"}}
	grid := plotter.NewGrid()
	grid.Vertical.Color, grid.Horizontal.Color = gridColor, gridColor
	p.Add(grid)

	tmax := 10.0
	if n := len(cv.T); n > 0 {
		tmax = math.Max(tmax, cv.T[n-1])
	}
	maxErrors := 100 - MinSuccessPercent
	threshold := curve(thresholdColor, 1, plotter.XYs{{X: 0, Y: maxErrors}, {X: tmax, Y: maxErrors}})
	threshold.Dashes = []vg.Length{4, 3}
	// The weight is a step function: it holds until the next sample.
	weight := curve(weightColor, 2, points(cv.T, cv.Weight))
	weight.StepStyle = plotter.PostStep
	p.Add(threshold, weight)
	legend := plot.NewLegend()
	legend.TextStyle.Font = font.From(sans, 9)
	legend.Top, legend.Left, legend.Padding = true, true, 3
	legend.Add("weight set", weight)
	for _, m := range []struct {
		label string
		col   color.RGBA
		v     []float64
	}{{"canary share measured", shareColor, cv.Share}, {"canary error rate", errorColor, cv.Errors}} {
		for _, run := range measured(cv.T, m.v) {
			p.Add(curve(m.col, 1.5, run))
		}
		legend.Add(m.label, curve(m.col, 1.5, nil))
	}
	legend.Add(fmt.Sprintf("max error rate %.0f%%", maxErrors), threshold)
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, tmax, 0, 100

	// A browser without the Liberation fonts draws the SVG's text in a wider one: room for it.
	legendWidth := legend.Rectangle(c).Size().X * 1.15
	p.Draw(draw.Crop(c, 0, -legendWidth-12, 0, 0))
	dataTop := p.DataCanvas(c).Max.Y
	legend.Draw(draw.Crop(c, c.Size().X-legendWidth, 0, 0, dataTop-c.Max.Y))
}

// curve is a line of the given colour and width, in pixels.
func curve(col color.RGBA, width float64, xys plotter.XYs) *plotter.Line {
	l := &plotter.Line{XYs: xys}
	l.Color, l.Width = col, pixels(1)*vg.Length(width)
	return l
}

func points(t, v []float64) plotter.XYs {
	xys := make(plotter.XYs, len(t))
	for i := range t {
		xys[i] = plotter.XY{X: t[i], Y: v[i]}
	}
	return xys
}

// measured splits a curve at the NaNs, where nothing was measured, into the runs of two
// points or more between them: the plot leaves a gap where a run ends.
func measured(t, v []float64) []plotter.XYs {
	var runs []plotter.XYs
	var run plotter.XYs
	for i := 0; i <= len(t); i++ {
		if i < len(t) && !math.IsNaN(v[i]) {
			run = append(run, plotter.XY{X: t[i], Y: v[i]})
			continue
		}
		if len(run) > 1 {
			runs = append(runs, run)
		}
		run = nil
	}
	return runs
}
