package stack

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func sample(sec float64, weight int32, primary, canary, failed float64) Sample {
	return Sample{
		At:     time.Unix(0, 0).Add(time.Duration(sec * float64(time.Second))),
		Weight: weight,
		Plane:  PlaneCounts{Primary: primary, Canary: canary, CanaryFailed: failed, Seen: true},
	}
}

func TestBetween(t *testing.T) {
	tests := []struct {
		name                string
		a, b                Sample
		share, errorRate    float64
		primary, canaryReqs float64
	}{
		{"a 5% split", sample(0, 5, 100, 0, 0), sample(1, 5, 195, 5, 1), 5, 20, 95, 5},
		{"nothing measured", sample(0, 5, 100, 5, 0), sample(1, 5, 100, 5, 0), -1, -1, 0, 0},
		{"all to the primary", sample(0, 0, 0, 7, 0), sample(1, 0, 50, 7, 0), 0, -1, 50, 0},
		{"counters reset by a restart", sample(0, 50, 1000, 1000, 10), sample(1, 50, 20, 20, 2), 50, 10, 20, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := Between(tt.a, tt.b)
			assert.Equal(t, tt.primary, w.Primary)
			assert.Equal(t, tt.canaryReqs, w.Canary)
			assert.InDelta(t, tt.share, w.CanaryShare(), 1e-9)
			assert.InDelta(t, tt.errorRate, w.CanaryErrorRate(), 1e-9)
		})
	}
}

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

func TestReportHasBothImages(t *testing.T) {
	dir := t.TempDir()
	trace := Trace{Title: "v2", Outcome: "promoted", Samples: []Sample{sample(0, 5, 0, 0, 0), sample(1, 5, 95, 5, 0)}}
	htmlPath, pngPath, err := WriteReport(dir, []Trace{trace})
	assert.NoError(t, err)
	assert.FileExists(t, htmlPath)
	assert.FileExists(t, pngPath)
}
