package replay_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/tranche-dev/tranche/analysis"
	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/cli/replay"
)

// history is a Prometheus of the past: each query's value is a function of the time it is
// asked about. It counts the requests made to it.
type history struct {
	value             func(query string, at time.Time) (float64, error)
	instant, inRanges int
}

func (h *history) Query(_ context.Context, query string, at time.Time) (float64, error) {
	h.instant++
	return h.value(query, at)
}

func (h *history) QueryBuckets(context.Context, string, time.Time) ([]float64, []float64, error) {
	return nil, nil, analysis.ErrNoData
}

func (h *history) QueryRange(_ context.Context, query string, start, end time.Time, step time.Duration) (analysis.Values, error) {
	h.inRanges++
	values := analysis.Values{}
	for at := start; !at.After(end); at = at.Add(step) {
		v, err := h.value(query, at)
		if err == analysis.ErrNoData {
			continue
		}
		values[at.UnixMilli()] = analysis.Answer{Value: v, Err: err}
	}
	return values, nil
}

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// rollout has three steps of a minute and an analysis every 10 s that rolls back at the
// second failed run.
func rollout(metrics ...trancheapi.Metric) *trancheapi.Rollout {
	step := func(w int32) trancheapi.Step {
		return trancheapi.Step{Weight: ptr.To(w), Hold: &metav1.Duration{Duration: time.Minute}}
	}
	return &trancheapi.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec: trancheapi.RolloutSpec{
			TargetRef: trancheapi.TargetRef{Kind: "Deployment", Name: "web"},
			Steps:     []trancheapi.Step{step(5), step(50), step(100)},
			Analysis:  &trancheapi.Analysis{Interval: &metav1.Duration{Duration: 10 * time.Second}, FailureLimit: 2, Metrics: metrics},
		},
	}
}

// succeeded is the record of a rollout whose three steps each held a minute.
func succeeded() trancheapi.RolloutRecord {
	rec := trancheapi.RolloutRecord{Revision: "v2", StartedAt: metav1.NewMicroTime(t0), Outcome: trancheapi.OutcomeSucceeded}
	for i, w := range []int32{5, 50, 100} {
		start := t0.Add(time.Duration(i) * time.Minute)
		rec.Steps = append(rec.Steps, trancheapi.StepRecord{Step: int32(i), Weight: w,
			StartedAt: metav1.NewMicroTime(start), EndedAt: metav1.NewMicroTime(start.Add(time.Minute))})
	}
	rec.EndedAt = ptr.To(rec.Steps[2].EndedAt)
	return rec
}

// latency is a Threshold metric of at most max milliseconds on the query "latency".
func latency(max float64, h *history) replay.Metric {
	return replay.Metric{Metric: trancheapi.Metric{Name: "latency", Max: &max}, Source: analysis.Source{Query: "latency"}, Prometheus: h}
}

func TestAThresholdTheReleaseNeverMetRollsItBackAtTheSecondRun(t *testing.T) {
	h := &history{value: func(string, time.Time) (float64, error) { return 120, nil }}
	ro := rollout()
	j := replay.Judge(context.Background(), ro, []replay.Metric{latency(100, h)}, succeeded())

	require.NotNil(t, j.RollBack, "a latency of 120 ms at every run fails a bound of 100")
	assert.Equal(t, t0.Add(20*time.Second), j.RollBack.At, "the second run, 20 s into the first step")
	assert.Equal(t, int32(0), j.RollBack.Step)
	assert.Equal(t, int32(5), j.RollBack.Weight)
	assert.Contains(t, j.RollBack.Reason, "2 failed analysis runs: latency = 120")
	assert.Equal(t, 2, j.Runs)
	assert.False(t, j.Promoted())
	assert.Equal(t, 1, h.instant, "the first run asks the query alone")
	assert.Equal(t, 1, h.inRanges, "the second fetches the rest of the step in one range query")
}

func TestABoundTheReleaseMetPromotesIt(t *testing.T) {
	h := &history{value: func(string, time.Time) (float64, error) { return 80, nil }}
	j := replay.Judge(context.Background(), rollout(), []replay.Metric{latency(100, h)}, succeeded())

	assert.Nil(t, j.RollBack)
	assert.True(t, j.Promoted())
	assert.Equal(t, 18, j.Runs, "six runs in each of three minute-long steps")
	assert.Equal(t, 3*time.Minute, j.Judged)
	assert.Equal(t, 3, h.instant, "one instant query per step")
	assert.Equal(t, 3, h.inRanges, "and one range query per step")
}

func TestFailuresCountAcrossStepsAsTheControllerCountsThem(t *testing.T) {
	// One slow run at the end of the first step and one at the start of the second.
	slow := map[time.Time]bool{t0.Add(time.Minute): true, t0.Add(70 * time.Second): true}
	h := &history{value: func(_ string, at time.Time) (float64, error) {
		if slow[at] {
			return 120, nil
		}
		return 80, nil
	}}
	j := replay.Judge(context.Background(), rollout(), []replay.Metric{latency(100, h)}, succeeded())

	require.NotNil(t, j.RollBack)
	assert.Equal(t, t0.Add(70*time.Second), j.RollBack.At)
	assert.Equal(t, int32(1), j.RollBack.Step, "the second failure, in the second step, reaches the limit")
	assert.Equal(t, int32(50), j.RollBack.Weight)
}

func TestADryRunMetricIsCountedAndNeverRollsBack(t *testing.T) {
	h := &history{value: func(string, time.Time) (float64, error) { return 120, nil }}
	m := latency(100, h)
	m.DryRun = true
	j := replay.Judge(context.Background(), rollout(), []replay.Metric{m}, succeeded())

	assert.Nil(t, j.RollBack)
	assert.Equal(t, 18, j.DryRunFailed, "every run would have failed it")
	assert.True(t, j.Promoted())
}

func TestRunsWithoutDataAreCountedAndRollBackAtTheInconclusiveLimit(t *testing.T) {
	h := &history{value: func(string, time.Time) (float64, error) { return 0, analysis.ErrNoData }}
	j := replay.Judge(context.Background(), rollout(), []replay.Metric{latency(100, h)}, succeeded())

	require.NotNil(t, j.RollBack, "six runs without data are two failed runs with an inconclusive limit of 3")
	assert.Equal(t, t0.Add(time.Minute), j.RollBack.At)
	assert.Contains(t, j.RollBack.Reason, "no data for latency")
	assert.Equal(t, 6, j.NoData)
}

func TestAMetricThatCannotBeAskedIsInconclusive(t *testing.T) {
	m := replay.Metric{Metric: trancheapi.Metric{Name: "errors", TemplateRef: &trancheapi.NamespacedObjectReference{Name: "gone"}},
		Err: assertError("MetricTemplate gone is not there")}
	j := replay.Judge(context.Background(), rollout(), []replay.Metric{m}, succeeded())

	require.NotNil(t, j.RollBack)
	assert.Contains(t, j.RollBack.Reason, "no data for errors")
}

func TestAnUndecidedCompareTestFailsTheStepWhenItsPolicySaysSo(t *testing.T) {
	// Neither version ever fails a request: no error rate can be told apart from another.
	h := &history{value: func(query string, _ time.Time) (float64, error) {
		if strings.HasPrefix(query, "errors") {
			return 0, nil
		}
		return 100, nil
	}}
	compare := func(policy trancheapi.UndecidedPolicy) replay.Metric {
		return replay.Metric{
			Metric: trancheapi.Metric{Name: "error-rate", Judge: trancheapi.JudgeCompare,
				Compare: &trancheapi.CompareSpec{Kind: trancheapi.CompareErrorRate, Undecided: policy}},
			Source: analysis.Source{Query: "errors{{ .WorkloadService }}", Total: "requests{{ .WorkloadService }}", Template: "errors"}, Prometheus: h,
		}
	}
	j := replay.Judge(context.Background(), rollout(), []replay.Metric{compare(trancheapi.UndecidedFail)}, succeeded())
	require.NotNil(t, j.RollBack)
	assert.Equal(t, t0.Add(time.Minute), j.RollBack.At, "at the end of the first step's hold")
	assert.Contains(t, j.RollBack.Reason, "error-rate was undecided when the hold of 1m0s ended")

	j = replay.Judge(context.Background(), rollout(), []replay.Metric{compare(trancheapi.UndecidedPass)}, succeeded())
	assert.Nil(t, j.RollBack)
	assert.True(t, j.Promoted())
}

type assertError string

func (e assertError) Error() string { return string(e) }
