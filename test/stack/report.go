package stack

import (
	"bytes"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
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
	const width, panel = 960, 300
	height := panel * len(traces)
	var svg svgCanvas
	img := newPNGCanvas(width, height)
	for i, tr := range traces {
		for _, c := range []canvas{&svg, img} {
			plot(c, tr, CurvesOf(tr.Samples), 0, i*panel, width, panel)
		}
	}
	pngPath = filepath.Join(dir, "demo-report.png")
	var buf bytes.Buffer
	if err := png.Encode(&buf, img.img); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(pngPath, buf.Bytes(), 0o644); err != nil {
		return "", "", err
	}
	htmlPath = filepath.Join(dir, "demo-report.html")
	page := reportPage(traces, fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="monospace" font-size="12">%s</svg>`,
		width, height, svg.b.String()))
	return htmlPath, pngPath, os.WriteFile(htmlPath, []byte(page), 0o644)
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

// Colours of the curves, the same in both images.
var (
	weightColor    = color.RGBA{0x1f, 0x5f, 0xbf, 0xff}
	shareColor     = color.RGBA{0x2c, 0xa0, 0x2c, 0xff}
	errorColor     = color.RGBA{0xd6, 0x27, 0x28, 0xff}
	gridColor      = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	textColor      = color.RGBA{0x22, 0x22, 0x22, 0xff}
	thresholdColor = color.RGBA{0xd6, 0x27, 0x28, 0xff}
)

// canvas is what plot draws on: an SVG document or a PNG image.
type canvas interface {
	line(x1, y1, x2, y2 float64, c color.RGBA, width float64, dashed bool)
	text(x, y float64, s string, c color.RGBA)
}

// plot draws one trace in the box at (x0, y0) of size w×h: percent on the vertical axis,
// seconds since the release on the horizontal one.
func plot(c canvas, tr Trace, cv Curves, x0, y0, w, h int) {
	left, right, top, bottom := float64(x0+50), float64(x0+w-20), float64(y0+40), float64(y0+h-40)
	tmax := 10.0
	if n := len(cv.T); n > 0 {
		tmax = math.Max(tmax, math.Ceil(cv.T[n-1]/10)*10)
	}
	x := func(t float64) float64 { return left + (right-left)*t/tmax }
	y := func(p float64) float64 { return bottom - (bottom-top)*p/100 }

	c.text(left, float64(y0+20), tr.Title+" - "+tr.Outcome, textColor)
	for p := 0.0; p <= 100; p += 25 {
		c.line(left, y(p), right, y(p), gridColor, 1, false)
		c.text(float64(x0+8), y(p)+4, fmt.Sprintf("%3.0f%%", p), textColor)
	}
	for t := 0.0; t <= tmax; t += 10 {
		c.line(x(t), top, x(t), bottom, gridColor, 1, false)
		c.text(x(t)-8, bottom+16, fmt.Sprintf("%.0fs", t), textColor)
	}
	maxErrors := 100 - MinSuccessPercent
	c.line(left, y(maxErrors), right, y(maxErrors), thresholdColor, 1, true)

	for i := 1; i < len(cv.T); i++ {
		// The weight is a step function: it holds until the next sample.
		c.line(x(cv.T[i-1]), y(cv.Weight[i-1]), x(cv.T[i]), y(cv.Weight[i-1]), weightColor, 2, false)
		c.line(x(cv.T[i]), y(cv.Weight[i-1]), x(cv.T[i]), y(cv.Weight[i]), weightColor, 2, false)
		for _, curve := range []struct {
			v   []float64
			col color.RGBA
		}{{cv.Share, shareColor}, {cv.Errors, errorColor}} {
			if !math.IsNaN(curve.v[i-1]) && !math.IsNaN(curve.v[i]) {
				c.line(x(cv.T[i-1]), y(curve.v[i-1]), x(cv.T[i]), y(curve.v[i]), curve.col, 1.5, false)
			}
		}
	}
	legend := []struct {
		label  string
		col    color.RGBA
		dashed bool
	}{
		{"weight set", weightColor, false},
		{"canary share measured", shareColor, false},
		{"canary error rate", errorColor, false},
		{fmt.Sprintf("max error rate %.0f%%", maxErrors), thresholdColor, true},
	}
	lx := left
	for _, l := range legend {
		c.line(lx, bottom+30, lx+20, bottom+30, l.col, 2, l.dashed)
		c.text(lx+25, bottom+34, l.label, textColor)
		lx += 50 + 7*float64(len(l.label))
	}
}

type svgCanvas struct{ b strings.Builder }

func (s *svgCanvas) line(x1, y1, x2, y2 float64, c color.RGBA, width float64, dashed bool) {
	dash := ""
	if dashed {
		dash = ` stroke-dasharray="6 4"`
	}
	fmt.Fprintf(&s.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#%02x%02x%02x" stroke-width="%.1f"%s/>`,
		x1, y1, x2, y2, c.R, c.G, c.B, width, dash)
}

func (s *svgCanvas) text(x, y float64, str string, c color.RGBA) {
	fmt.Fprintf(&s.b, `<text x="%.1f" y="%.1f" fill="#%02x%02x%02x">%s</text>`, x, y, c.R, c.G, c.B, html.EscapeString(str))
}

type pngCanvas struct{ img *image.RGBA }

func newPNGCanvas(w, h int) *pngCanvas {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	return &pngCanvas{img: img}
}

// line draws with round dots along the segment: plain enough for a plot, no antialiasing.
func (p *pngCanvas) line(x1, y1, x2, y2 float64, c color.RGBA, width float64, dashed bool) {
	length := math.Hypot(x2-x1, y2-y1)
	steps := int(math.Ceil(length)) + 1
	r := width / 2
	for i := 0; i <= steps; i++ {
		if dashed && (i/5)%2 == 1 {
			continue
		}
		f := float64(i) / float64(steps)
		cx, cy := x1+(x2-x1)*f, y1+(y2-y1)*f
		for dx := -r; dx <= r; dx += 0.5 {
			for dy := -r; dy <= r; dy += 0.5 {
				p.img.SetRGBA(int(math.Round(cx+dx)), int(math.Round(cy+dy)), c)
			}
		}
	}
}

func (p *pngCanvas) text(x, y float64, s string, c color.RGBA) {
	d := &font.Drawer{Dst: p.img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(int(x), int(y))}
	d.DrawString(s)
}
