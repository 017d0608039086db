package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tranche-dev/tranche/test/stack"
)

// samplesOf makes the load's counts at 100 ms steps from edit, each step adding the answers
// of by (a map per step).
func samplesOf(edit time.Time, steps ...map[string]int) []sample {
	total := stack.LoadCounts{ByVersion: map[string]int{}}
	samples := []sample{{at: edit, counts: total}}
	for i, step := range steps {
		next := stack.LoadCounts{Sent: total.Sent, Failed: total.Failed, ByVersion: map[string]int{}}
		for v, n := range total.ByVersion {
			next.ByVersion[v] = n
		}
		for v, n := range step {
			if v == "failed" {
				next.Failed += n
			} else {
				next.ByVersion[v] += n
			}
			next.Sent += n
		}
		total = next
		samples = append(samples, sample{at: edit.Add(time.Duration(i+1) * 100 * time.Millisecond), counts: total})
	}
	return samples
}

func TestUntilOnly(t *testing.T) {
	edit := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	samples := samplesOf(edit,
		map[string]int{"v1": 10},
		map[string]int{"v1": 9, "v2": 1},
		map[string]int{"v1": 5, "v2": 5},
		map[string]int{"v2": 10},
		map[string]int{"v2": 10},
	)
	assert.Equal(t, 300*time.Millisecond, untilOnly(samples, edit, "v2", true), "promoted: the end of the last 100 ms v1 answered in")
	assert.Equal(t, 500*time.Millisecond, untilOnly(samples, edit, "v2", false), "rolled back: v2 never stopped")
	assert.Zero(t, untilOnly(samplesOf(edit, map[string]int{"v1": 10}), edit, "v2", false), "the new version never answered")
}

func TestTimelineOf(t *testing.T) {
	edit := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	var steps []map[string]int
	for range 5 {
		steps = append(steps, map[string]int{"v1": 9, "v2": 1})
	}
	for range 5 {
		steps = append(steps, map[string]int{"v1": 4, "v2": 4, "failed": 2})
	}
	tl := timelineOf(samplesOf(edit, steps...), edit, "v2")
	assert.Equal(t, []float64{0.5, 1}, tl.seconds)
	assert.Equal(t, []float64{10, 50}, tl.share, "of the answers")
	assert.Equal(t, []float64{0, 20}, tl.failed, "of the requests")
}

func TestSpreadAndMedian(t *testing.T) {
	assert.Equal(t, "1.0 / 2.5 / 9.0", spread([]float64{9, 1, 2, 3}, "%.1f"))
	assert.Equal(t, "4", spread([]float64{4}, "%.0f"))
	assert.Equal(t, "-", spread(nil, "%.0f"))
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
}
