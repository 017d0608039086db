package analysis_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tranche-dev/tranche/analysis"
	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// answers plays Prometheus: each query's answer, by its text.
type answers map[string]float64

func (a answers) Query(_ context.Context, query string, _ time.Time) (float64, error) {
	v, ok := a[query]
	if !ok {
		return 0, analysis.ErrNoData
	}
	return v, nil
}

func (a answers) QueryBuckets(_ context.Context, query string, _ time.Time) ([]float64, []float64, error) {
	return nil, nil, analysis.ErrNoData
}

// errorRun compares errors over 5 minutes of a 10-minute hold.
func errorRun(spec *trancheapi.CompareSpec) analysis.CompareRun {
	m := trancheapi.Metric{Judge: trancheapi.JudgeCompare, Compare: spec}
	return analysis.CompareRun{
		Canary:  analysis.WorkloadQueries{Query: "canary errors", Total: "canary requests"},
		Primary: analysis.WorkloadQueries{Query: "primary errors", Total: "primary requests"},
		Spec:    m.EffectiveCompare(), Look: 5, Window: 5 * time.Minute, Hold: 10 * time.Minute,
	}
}

func counts(canaryRequests, canaryErrors, primaryRequests, primaryErrors float64) answers {
	a := answers{"canary requests": canaryRequests, "primary requests": primaryRequests}
	// No error series at all reads as no data, as sum(increase(...{code=~"5.."})) does.
	if canaryErrors > 0 {
		a["canary errors"] = canaryErrors
	}
	if primaryErrors > 0 {
		a["primary errors"] = primaryErrors
	}
	return a
}

func TestCompareErrorRates(t *testing.T) {
	for _, tc := range []struct {
		name     string
		spec     *trancheapi.CompareSpec
		counts   answers
		verdict  trancheapi.Verdict
		final    bool
		message  string
		hasValue bool
	}{
		{"three times the errors", nil, counts(3000, 300, 57000, 1000), trancheapi.VerdictFail, true, "the canary's error rate is", true},
		{"the same errors, plenty of them", nil, counts(30000, 600, 30000, 600), trancheapi.VerdictPass, true, "not 100% worse", true},
		{"too early to tell", nil, counts(1000, 12, 19000, 190), trancheapi.VerdictUndecided, false, "no verdict yet", true},
		{"no errors at all", nil, counts(1000, 0, 19000, 0), trancheapi.VerdictUndecided, false, "no errors in either version, no error rate can be told apart", false},
		{"errors in the canary alone, too few to tell", nil, counts(1000, 2, 19000, 0), trancheapi.VerdictUndecided, false,
			"the primary has made no error yet, so how long telling a 2× error rate apart takes cannot be estimated", false},
		// The first 10 s at 5% of 100 rps, a canary failing 30% of its requests: decided at
		// once, as the test is valid at any number of requests.
		{"a canary failing 30% at its first run", nil, counts(50, 15, 950, 0), trancheapi.VerdictFail, true, "the canary's error rate is", false},
		{"too few canary requests: wait", nil, counts(15, 1, 285, 3), trancheapi.VerdictWaiting, false, "15 of the 20 requests", true},
		{"too few canary requests: fail", &trancheapi.CompareSpec{InsufficientData: trancheapi.InsufficientFail}, counts(15, 1, 285, 3),
			trancheapi.VerdictFail, false, "not enough data", true},
		{"too few canary requests: pause", &trancheapi.CompareSpec{InsufficientData: trancheapi.InsufficientPause}, counts(15, 1, 285, 3),
			trancheapi.VerdictWaiting, false, "not enough data", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := analysis.Compare(context.Background(), tc.counts, errorRun(tc.spec), time.Now())
			require.NoError(t, c.Err)
			assert.Equal(t, tc.verdict, c.Verdict, c.Message)
			assert.Equal(t, tc.final, c.Final, c.Message)
			assert.Contains(t, c.Message, tc.message)
			assert.Equal(t, tc.hasValue, c.HasValue)
		})
	}
}

// While undecided, the run says how long a verdict takes when that is longer than the hold.
func TestCompareSaysWhenTheHoldIsTooShort(t *testing.T) {
	// 5% of 20 rps over 5 minutes, 1% errors: a 2x canary takes far longer than 10 minutes,
	// 21 minutes on average, and 98 to be caught 99 times in 100 (missedRegression 0.01).
	slow := analysis.Compare(context.Background(), counts(300, 3, 5700, 57), errorRun(nil), time.Now())
	assert.Equal(t, trancheapi.VerdictUndecided, slow.Verdict)
	assert.InDelta(t, 98*time.Minute, slow.Needs, float64(time.Minute), "the estimate, which an Extend policy holds to")
	assert.Contains(t, slow.Message, "at 5% of 20 rps with 1% errors, telling a 2× error rate apart 99 times in 100 takes about 1h38m,")
	assert.Contains(t, slow.Message, "longer than the step's hold of 10m0s")
	// 50% of 500 rps: quick enough, nothing to say.
	quick := analysis.Compare(context.Background(), counts(75000, 740, 75000, 750), errorRun(nil), time.Now())
	assert.NotContains(t, quick.Message, "longer than the step's hold")
}

func TestCompareRefusesCountsThatAreNotCounts(t *testing.T) {
	c := analysis.Compare(context.Background(), answers{"canary requests": 1000, "canary errors": math.NaN(), "primary requests": 1000, "primary errors": 1}, errorRun(nil), time.Now())
	assert.Equal(t, trancheapi.VerdictInconclusive, c.Verdict)
	require.Error(t, c.Err)
	assert.True(t, strings.Contains(c.Err.Error(), "must count requests"))
}

// partAnswers plays a Prometheus that also answers range queries: each part query's answers
// from the first part on.
type partAnswers struct {
	answers
	parts map[string][]float64
}

func (p partAnswers) QueryRange(_ context.Context, query string, start, end time.Time, step time.Duration) (analysis.Values, error) {
	values := analysis.Values{}
	for i, v := range p.parts[query] {
		at := start.Add(time.Duration(i) * step)
		if at.After(end) {
			break
		}
		values[at.UnixMilli()] = analysis.Answer{Value: v}
	}
	return values, nil
}

// A split that moves within the step as the base error rate climbs: first 1% of the traffic
// at 0.1% errors, then half of it at 5%. Both versions fail alike in each part, but over the
// window's totals the canary has 2.8 times the primary's error rate. Read in parts, each
// with its own split, the canary is no worse.
func TestCompareReadsTheCountsInParts(t *testing.T) {
	run := errorRun(nil)
	run.Window, run.Part = 3*time.Minute, time.Minute
	run.Canary.PartQuery, run.Canary.PartTotal = "canary errors/part", "canary requests/part"
	run.Primary.PartQuery, run.Primary.PartTotal = "primary errors/part", "primary requests/part"
	totals := counts(51000, 2501, 149000, 2599)

	c := analysis.Compare(context.Background(), totals, run, time.Now())
	assert.Equal(t, trancheapi.VerdictFail, c.Verdict, "the totals alone: %s", c.Message)

	inParts := partAnswers{answers: totals, parts: map[string][]float64{
		"canary requests/part": {1000, 25000, 25000}, "canary errors/part": {1, 1250, 1250},
		"primary requests/part": {99000, 25000, 25000}, "primary errors/part": {99, 1250, 1250},
	}}
	c = analysis.Compare(context.Background(), inParts, run, time.Now())
	assert.Equal(t, trancheapi.VerdictPass, c.Verdict, c.Message)
	assert.True(t, c.Final, c.Message)
}

// Errors that vary between parts more than independent ones weigh less each, and a verdict
// takes that much longer: the estimate an Extend policy holds to says so. Seen through
// Traefik: bursts made the evidence weigh 7 times less, the estimate assumed independent
// errors, and the step's extension was over before it began.
func TestCompareEstimatesLongerForBurstyErrors(t *testing.T) {
	run := errorRun(nil)
	run.Window, run.Part, run.Hold = 2*time.Minute, 15*time.Second, 2*time.Minute
	run.Canary.PartQuery, run.Canary.PartTotal = "canary errors/part", "canary requests/part"
	run.Primary.PartQuery, run.Primary.PartTotal = "primary errors/part", "primary requests/part"
	parts := map[string][]float64{
		"canary requests/part": {500, 500, 500, 500, 500, 500, 500, 500}, "canary errors/part": {1, 20, 2, 1, 24, 0, 2, 2},
		"primary requests/part": {500, 500, 500, 500, 500, 500, 500, 500}, "primary errors/part": {5, 6, 4, 5, 5, 6, 4, 5},
	}
	totals := counts(4000, 52, 4000, 40)

	independent := analysis.Compare(context.Background(), totals, run, time.Now())
	bursty := analysis.Compare(context.Background(), partAnswers{answers: totals, parts: parts}, run, time.Now())
	require.Equal(t, trancheapi.VerdictUndecided, independent.Verdict, independent.Message)
	require.Equal(t, trancheapi.VerdictUndecided, bursty.Verdict, bursty.Message)
	var dispersion float64
	_, err := fmt.Sscanf(bursty.Message[strings.Index(bursty.Message, "the errors vary "):], "the errors vary %g times", &dispersion)
	require.NoError(t, err, "the message says how much the errors vary: %s", bursty.Message)
	require.Greater(t, dispersion, 3.0, bursty.Message)
	assert.InDelta(t, dispersion, bursty.Needs.Seconds()/independent.Needs.Seconds(), 0.1,
		"the estimate grows with the dispersion: %s, %s", independent.Needs, bursty.Needs)
	assert.Contains(t, bursty.Message, "longer than the step's hold of 2m0s")
}

// timedAnswers plays a Prometheus whose range queries answer by time: each query's values
// at the times they were laid out (series), the instant queries as answers does.
type timedAnswers struct {
	answers
	series map[string]map[int64]float64
}

func (a timedAnswers) QueryRange(_ context.Context, query string, start, end time.Time, step time.Duration) (analysis.Values, error) {
	values := analysis.Values{}
	for at := start; !at.After(end); at = at.Add(step) {
		if v, ok := a.series[query][at.UnixMilli()]; ok {
			values[at.UnixMilli()] = analysis.Answer{Value: v}
		}
	}
	return values, nil
}

// lay sets query's values, one a step from start.
func (a timedAnswers) lay(query string, start time.Time, step time.Duration, values ...float64) {
	if a.series[query] == nil {
		a.series[query] = map[int64]float64{}
	}
	for i, v := range values {
		a.series[query][start.Add(time.Duration(i)*step).UnixMilli()] = v
	}
}

// An incident on the canary alone, from its second part on at three times its rate, looks
// like a regression to the step's own parts. The primary's four hours before the step tell
// whether such incidents are its usual: with a past of independent errors the canary is
// failed; with a past that had incidents like it (two minutes at 12 times the rate, once an
// hour), the evidence weighs less and the run stays undecided, and says why.
func TestCompareReadsThePrimarysPast(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	run := errorRun(nil)
	run.Window, run.Part = 3*time.Minute, 15*time.Second
	run.Canary.PartQuery, run.Canary.PartTotal = "canary errors/part", "canary requests/part"
	run.Primary.PartQuery, run.Primary.PartTotal = "primary errors/part", "primary requests/part"
	const parts = 12
	first := now.Add(-(parts - 1) * run.Part)

	withPast := func(incidents bool) timedAnswers {
		a := timedAnswers{answers: answers{}, series: map[string]map[int64]float64{}}
		var canaryErrors, primaryErrors, requests []float64
		for i := range parts {
			wiggle := float64(i%3) - 1 // the Poisson noise, without chance in the test
			canaryErrors = append(canaryErrors, 5+wiggle)
			if i >= 2 {
				canaryErrors[i] = 15 + wiggle
			}
			primaryErrors = append(primaryErrors, 5+float64((i+1)%3)-1)
			requests = append(requests, 500)
		}
		a.lay("canary errors/part", first, run.Part, canaryErrors...)
		a.lay("canary requests/part", first, run.Part, requests...)
		a.lay("primary errors/part", first, run.Part, primaryErrors...)
		a.lay("primary requests/part", first, run.Part, requests...)
		a.answers["canary errors"], a.answers["canary requests"] = sum(canaryErrors), sum(requests)
		a.answers["primary errors"], a.answers["primary requests"] = sum(primaryErrors), sum(requests)
		// The past: 960 parts of 1000 requests at 1%.
		pastRequests, pastErrors := make([]float64, 960), make([]float64, 960)
		for i := range pastRequests {
			pastRequests[i], pastErrors[i] = 1000, 10
			if incidents && i%240 >= 100 && i%240 < 108 {
				pastErrors[i] = 120
			}
		}
		pastFirst := now.Add(-run.Window).Add(-959 * run.Part)
		a.lay("primary errors/part", pastFirst, run.Part, pastErrors...)
		a.lay("primary requests/part", pastFirst, run.Part, pastRequests...)
		return a
	}

	steady := analysis.Compare(context.Background(), withPast(false), run, now)
	assert.Equal(t, trancheapi.VerdictFail, steady.Verdict, "a past of independent errors: %s", steady.Message)
	bursty := analysis.Compare(context.Background(), withPast(true), run, now)
	assert.Equal(t, trancheapi.VerdictUndecided, bursty.Verdict, "a past of incidents: %s", bursty.Message)
	assert.Contains(t, bursty.Message, "the primary's errors in the 4 hours before the step came in bursts")
}

func sum(values []float64) float64 {
	total := 0.0
	for _, v := range values {
		total += v
	}
	return total
}

// A step that sends every request to the canary leaves the primary none to compare it
// with: the Compare metric passes at once and asks Prometheus nothing, rather than stay
// undecided (an Extend policy held such a step to its deadline, waiting for nothing). Any
// other step compares.
func TestCompareHasNothingToCompareWhenTheCanaryTakesAll(t *testing.T) {
	ro := &trancheapi.Rollout{}
	ro.Namespace, ro.Name, ro.Spec.TargetRef.Name = "shop", "app", "app"
	m := trancheapi.Metric{Name: "errors", Judge: trancheapi.JudgeCompare, Compare: &trancheapi.CompareSpec{Undecided: trancheapi.UndecidedExtend}}
	src := analysis.Source{Query: "errors", Total: "requests"}
	now := time.Now()
	step := analysis.StepWindow{Start: now.Add(-time.Minute), Hold: time.Minute, Interval: 10 * time.Second}

	asked := answers{}
	step.AllOnCanary = true
	c := analysis.EvaluateMetric(context.Background(), asked, ro, m, src, step, now)
	assert.Equal(t, trancheapi.VerdictPass, c.Verdict, c.Message)
	assert.False(t, c.Final, "the pass is the step's, not the test's")
	assert.Contains(t, c.Message, "no primary traffic to compare it with")
	assert.Equal(t, "errors", c.Metric)

	step.AllOnCanary = false
	c = analysis.EvaluateMetric(context.Background(), asked, ro, m, src, step, now)
	assert.NotEqual(t, trancheapi.VerdictPass, c.Verdict, "with no counts at all, no pass: %s", c.Message)
}

// A step's window is the spec's: its hold and interval, and whether it sends every request
// to the canary; a step the spec does not have has the interval alone.
func TestStepWindowOf(t *testing.T) {
	spec := &trancheapi.RolloutSpec{Steps: []trancheapi.Step{
		{Weight: ptrTo[int32](5), Hold: &metav1.Duration{Duration: time.Minute}},
		{Weight: ptrTo[int32](100)},
	}, Analysis: &trancheapi.Analysis{Interval: &metav1.Duration{Duration: 10 * time.Second}}}
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

	w, ok := analysis.StepWindowOf(spec, 0, start)
	assert.True(t, ok)
	assert.Equal(t, analysis.StepWindow{Start: start, Hold: time.Minute, Interval: 10 * time.Second, Scrape: 15 * time.Second}, w)
	w, ok = analysis.StepWindowOf(spec, 1, start)
	assert.True(t, ok)
	assert.True(t, w.AllOnCanary, "a step of weight 100")
	w, ok = analysis.StepWindowOf(spec, 2, start)
	assert.False(t, ok)
	assert.Equal(t, analysis.StepWindow{Start: start, Interval: 10 * time.Second, Scrape: 15 * time.Second}, w)
	spec.Analysis.ScrapeInterval = &metav1.Duration{Duration: 2 * time.Second}
	w, _ = analysis.StepWindowOf(spec, 0, start)
	assert.Equal(t, 2*time.Second, w.Scrape, "the spec's scrape interval")
}

// The parts are a quarter of the interval, no shorter than a scrape and no longer than the
// interval.
func TestPartLength(t *testing.T) {
	for _, tc := range []struct{ interval, scrape, part time.Duration }{
		{time.Minute, 0, 15 * time.Second},
		{4 * time.Minute, 0, time.Minute},
		{10 * time.Second, 0, 10 * time.Second},
		{10 * time.Second, time.Second, 2500 * time.Millisecond},
		{20 * time.Second, 5 * time.Second, 5 * time.Second},
		{2 * time.Second, 5 * time.Second, 2 * time.Second},
	} {
		assert.Equal(t, tc.part, analysis.PartLength(tc.interval, tc.scrape), "interval %s, scrape %s", tc.interval, tc.scrape)
	}
}

func ptrTo[T any](v T) *T { return &v }
