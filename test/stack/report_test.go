package stack

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot/plotter"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

func TestStepsOfSplitsWhereTheWeightChanges(t *testing.T) {
	// Each step counts from the last sample of the one before: no request is left out.
	samples := []Sample{
		sample(0, 0, 0, 0, 0), sample(1, 5, 95, 5, 0), sample(2, 5, 190, 10, 0),
		sample(3, 50, 240, 60, 0), sample(4, 50, 290, 110, 0), sample(5, 0, 390, 110, 0),
	}
	steps := StepsOf(samples)
	var weights []int32
	for _, s := range steps {
		weights = append(weights, s.Weight)
	}
	assert.Equal(t, []int32{0, 5, 50, 0}, weights)
	assert.InDelta(t, 5, steps[1].Window.CanaryShare(), 1e-9)
	assert.InDelta(t, 50, steps[2].Window.CanaryShare(), 1e-9)
	assert.Equal(t, 100.0, steps[2].Window.Canary)
}

func TestCurvesMeasureOverTheLastTwoSeconds(t *testing.T) {
	samples := []Sample{sample(0, 5, 0, 0, 0), sample(1, 5, 95, 5, 0), sample(2, 5, 190, 10, 5), sample(3, 50, 240, 60, 5)}
	c := CurvesOf(samples)
	assert.Equal(t, []float64{0, 1, 2, 3}, c.T)
	assert.Equal(t, []float64{5, 5, 5, 50}, c.Weight)
	assert.True(t, math.IsNaN(c.Share[0]), "nothing measured at the first sample")
	assert.InDelta(t, 5, c.Share[1], 1e-9)
	assert.InDelta(t, 5, c.Share[2], 1e-9)
	assert.InDelta(t, 27.5, c.Share[3], 1e-9, "(60-5)/(300-100): the window starts at the second sample")
	assert.InDelta(t, 50, c.Errors[2], 1e-9)
}

func TestMeasuredLeavesAGapWhereNothingWasMeasured(t *testing.T) {
	nan := math.NaN()
	runs := measured([]float64{0, 1, 2, 3, 4, 5, 6}, []float64{nan, 1, 2, nan, 3, nan, nan})
	assert.Equal(t, []plotter.XYs{{{X: 1, Y: 1}, {X: 2, Y: 2}}}, runs, "a lone point between gaps is no line")
	assert.Len(t, measured([]float64{0, 1, 2}, []float64{4, 5, 6}), 1)
	assert.Empty(t, measured(nil, nil))
}

// steadyTrace holds each curve at its own level for 20 s: the weight at 80%, the measured
// share at 40%, the canary's error rate at 20%.
func steadyTrace() Trace {
	var samples []Sample
	for i := range 41 {
		n := float64(i)
		samples = append(samples, sample(n/2, 80, 6*n, 4*n, 0.8*n))
	}
	return Trace{Title: "v2 (healthy)", Outcome: "Succeeded: promoted 7f9c2a1b3d", Samples: samples}
}

func TestReportDrawsEachCurve(t *testing.T) {
	htmlPath, pngPath, err := WriteReport(t.TempDir(), []Trace{steadyTrace()})
	require.NoError(t, err)

	// A curve across the plot colours hundreds of pixels; its legend's sample alone, a few dozen.
	f, err := os.Open(pngPath)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	assert.Equal(t, image.Pt(960, 300), img.Bounds().Size())
	for name, col := range map[string]color.RGBA{"weight": weightColor, "share": shareColor, "error rate": errorColor} {
		assert.Greater(t, pixelsOf(img, col), 400, "the %s curve in the PNG", name)
	}

	page, err := os.ReadFile(htmlPath)
	require.NoError(t, err)
	html := string(page)
	assert.NotContains(t, html, "<?xml", "the SVG is inline")
	for name, col := range map[string]color.RGBA{"weight": weightColor, "share": shareColor, "error rate": errorColor} {
		// One path in the legend, one or more in the plot.
		assert.GreaterOrEqual(t, strings.Count(html, fmt.Sprintf("stroke:#%02X%02X%02X;", col.R, col.G, col.B)), 2, "the %s curve in the SVG", name)
	}
	for _, text := range []string{"v2 (healthy) - Succeeded: promoted 7f9c2a1b3d", "weight set", "canary share measured",
		"canary error rate", "max error rate 1%", "seconds since the release", "percent", "100%"} {
		assert.Contains(t, html, ">"+text+"</text>", "the SVG shows %q", text)
	}
}

func TestReportHasTheStepsAndTheOutcome(t *testing.T) {
	trace := Trace{Title: "v3 (30% errors)", Outcome: "Failed: <rolled back>", Samples: []Sample{
		sample(0, 0, 0, 0, 0), sample(1, 5, 95, 5, 0), sample(2, 5, 190, 10, 3), sample(3, 0, 290, 10, 3),
	}}
	failed := trancheapi.CheckResult{Metric: "errors-compared", Verdict: trancheapi.VerdictFail, Message: "the canary is worse than the primary",
		At: metav1.NewMicroTime(trace.Samples[2].At)}
	trace.Samples[2].Checks = []trancheapi.CheckResult{failed}
	trace.Samples[3].Checks = []trancheapi.CheckResult{failed}
	htmlPath, _, err := WriteReport(t.TempDir(), []Trace{steadyTrace(), trace})
	require.NoError(t, err)
	page, err := os.ReadFile(htmlPath)
	require.NoError(t, err)
	html := string(page)
	assert.Contains(t, html, "<h2>v3 (30% errors)</h2>\n<p>Failed: &lt;rolled back&gt;</p>")
	assert.Contains(t, html, "<tr><td>0.0</td><td>2.0</td><td></td><td>5%</td><td>5.0%</td><td>10</td><td>3</td></tr>",
		"the 5% step: from the sample before it to its last")
	assert.Equal(t, 2, strings.Count(html, "<table"))
	assert.Contains(t, html, "<li>errors-compared: Fail at 2.0 s (last: the canary is worse than the primary)</li>", "what each check decided")
}

func TestReportNeedsATrace(t *testing.T) {
	_, _, err := WriteReport(t.TempDir(), nil)
	assert.Error(t, err)
}

// pixelsOf counts the pixels of img drawn in col: col itself, or col blended with the white
// background, as antialiasing draws the edge of a line.
func pixelsOf(img image.Image, col color.RGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			// How much of col each channel shows: the same in all three for col over white.
			var ink []float64
			for _, c := range [][2]float64{{float64(r >> 8), float64(col.R)}, {float64(g >> 8), float64(col.G)}, {float64(bl >> 8), float64(col.B)}} {
				ink = append(ink, (255-c[0])/(255-c[1]))
			}
			if slices.Min(ink) > 0.3 && slices.Max(ink)-slices.Min(ink) < 0.1 {
				n++
			}
		}
	}
	return n
}
