package analysis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tranche-dev/tranche/analysis/sequential"
	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// CompareQuerier answers a Compare metric's queries: numbers, and histogram buckets (one
// series per le). Prometheus is one.
type CompareQuerier interface {
	Querier
	QueryBuckets(ctx context.Context, query string, at time.Time) (upper, cumulative []float64, err error)
}

// WorkloadQueries are a Compare metric's queries rendered for one workload: Query counts its
// errors (ErrorRate) or returns its latency buckets (Latency); Total counts its requests.
// PartQuery and PartTotal are the same counts over one part of the window (see CompareRun).
type WorkloadQueries struct {
	Query, Total         string
	PartQuery, PartTotal string
}

// CompareRun is one run of a Compare metric: its queries for both workloads, its spec with
// the defaults filled in, and where the run stands in its step.
type CompareRun struct {
	Canary, Primary WorkloadQueries
	Spec            trancheapi.CompareSpec
	// Look is the run's number in the step, from 1: the rank test spends its error
	// probability over the looks.
	Look int
	// Window is the time since the step's split began, which the queries count over; Hold
	// is the step's hold. Both serve the estimate of the time a verdict needs.
	Window, Hold time.Duration
	// Part is the length of the parts the error counts are also read in, when the querier
	// answers range queries (see PartLength); 0: the window's totals alone.
	Part time.Duration
}

// Compare judges the canary against the primary with the sequential tests of package
// sequential (docs/analysis.md). A Fail or Pass the test is sure of is Final; while unsure,
// an ErrorRate run is Undecided and says how long a verdict may take. The latency test has
// no bound for better: while it has not found the canary slower, a run passes (not Final).
func Compare(ctx context.Context, q CompareQuerier, run CompareRun, at time.Time) Check {
	if run.Spec.Kind == trancheapi.CompareLatency {
		return compareLatency(ctx, q, run, at)
	}
	return compareErrors(ctx, q, run, at)
}

func compareErrors(ctx context.Context, q Querier, run CompareRun, at time.Time) Check {
	var counts sequential.Counts
	for _, v := range []struct {
		query string
		into  *float64
	}{
		{run.Canary.Query, &counts.CanaryErrors}, {run.Canary.Total, &counts.CanaryRequests},
		{run.Primary.Query, &counts.PrimaryErrors}, {run.Primary.Total, &counts.PrimaryRequests},
	} {
		value, err := q.Query(ctx, v.query, at)
		switch {
		case errors.Is(err, ErrNoData): // no series yet: nothing counted
		case err != nil:
			return Check{Verdict: trancheapi.VerdictInconclusive, Err: err}
		case !countable(value):
			return Check{Verdict: trancheapi.VerdictInconclusive, Err: fmt.Errorf("a count is %g: a Compare metric's queries must count requests (docs/analysis.md)", value)}
		default:
			*v.into = value
		}
	}
	test := rateTest(run.Spec)
	var result sequential.RateResult
	if parts, ok := partCounts(ctx, q, run, at, counts); ok {
		result = test.JudgePartsAfter(parts, primaryPast(ctx, q, run, at))
	} else {
		result = test.Judge(counts)
	}
	c := Check{Value: result.Ratio, HasValue: !math.IsNaN(result.Ratio)}
	needed := math.Log(1 / test.Alpha)
	switch result.Outcome {
	case sequential.Worse:
		c.Verdict, c.Final = trancheapi.VerdictFail, true
		c.Message = fmt.Sprintf("the canary's error rate is %s the primary's: enough evidence of a %d%% regression (%.1f of %.1f%s)",
			times(result.Ratio), *run.Spec.Detect, result.LogLR, needed, dispersed(result))
		return c
	case sequential.NotWorse:
		c.Verdict, c.Final = trancheapi.VerdictPass, true
		c.Message = fmt.Sprintf("the canary's error rate is %s the primary's: enough evidence it is not %d%% worse", times(result.Ratio), *run.Spec.Detect)
		return c
	}
	if counts.CanaryRequests < test.MinRequests {
		return insufficient(c, run.Spec, fmt.Sprintf("%.0f of the %.0f requests the canary must serve before a verdict", counts.CanaryRequests, test.MinRequests))
	}
	c.Verdict = trancheapi.VerdictUndecided
	c.Needs = timeNeeded(test, counts, run, result.Dispersion)
	c.Message = fmt.Sprintf("no verdict yet (evidence %.1f, %.1f needed either way%s)%s", result.LogLR, needed, dispersed(result),
		estimate(test, counts, run, c.Needs))
	return c
}

// countable is a count Prometheus may give for a Compare query: not NaN, not infinite, not
// negative (a counter reset within the window gives a negative one).
func countable(v float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0
}

// dispersed says, when the errors vary more than independent events do, by how much the
// evidence was weighed down.
func dispersed(r sequential.RateResult) string {
	if r.Dispersion < 1.5 { // below that, the noise of the estimate
		return ""
	}
	if r.FromPast {
		return fmt.Sprintf("; the primary's errors in the %g hours before the step came in bursts: the canary's share of the errors can vary %.1f times as much as independent ones would, and the evidence weighs that much less",
			pastLength.Hours(), r.Dispersion)
	}
	return fmt.Sprintf("; the errors vary %.1f times as much between parts of the step as independent ones would, and weigh that much less", r.Dispersion)
}

// timeNeeded is about how long into the step the rate test takes to catch the regression it
// is built for, all but missedRegression of the time, in the traffic seen so far; 0 when the
// traffic does not tell. Not the mean time: by then, 4 regressions in 10 are still
// undecided, and an Extend policy that held that long would pass them. Errors that vary
// dispersion times as much as independent ones weigh that much less each, so a verdict takes
// that much longer: an Extend policy that held only as long as independent errors need would
// let bursty ones pass undecided.
func timeNeeded(test sequential.RateTest, c sequential.Counts, run CompareRun, dispersion float64) time.Duration {
	total := c.CanaryRequests + c.PrimaryRequests
	if total <= 0 || run.Window <= 0 || c.PrimaryRequests <= 0 {
		return 0
	}
	weight, rps, base := c.CanaryRequests/total, total/run.Window.Seconds(), c.PrimaryErrors/c.PrimaryRequests
	seconds := test.TimeToCatch(weight, rps, base) * max(1, dispersion)
	if math.IsInf(seconds, 0) || math.IsNaN(seconds) || seconds > maxNeeded.Seconds() {
		return maxNeeded
	}
	return time.Duration(seconds * float64(time.Second))
}

// timesIn100 says a chance the way the estimate's message does: "99 times in 100".
func timesIn100(chance float64) string {
	return fmt.Sprintf("%.3g times in 100", 100*chance)
}

// maxNeeded caps the estimate: a primary without errors makes it endless.
const maxNeeded = 30 * 24 * time.Hour

func rateTest(spec trancheapi.CompareSpec) sequential.RateTest {
	return sequential.RateTest{
		Tolerated:   1 + float64(*spec.Tolerance)/100,
		Detect:      1 + float64(*spec.Detect)/100,
		Alpha:       *spec.FalseRollback,
		Beta:        *spec.MissedRegression,
		MinRequests: float64(*spec.MinRequests),
	}
}

// estimate says how long the rate test takes to catch the regression it is built for, in the
// traffic seen so far, when that is longer than the step's hold.
func estimate(test sequential.RateTest, c sequential.Counts, run CompareRun, needs time.Duration) string {
	if needs <= run.Hold || needs == 0 {
		return ""
	}
	if c.PrimaryErrors == 0 && c.CanaryErrors == 0 {
		return fmt.Sprintf("; with no errors in either version, no error rate can be told apart within the step's hold of %s", run.Hold)
	}
	if c.PrimaryErrors == 0 { // the estimate scales with the primary's error rate: none, no estimate
		return fmt.Sprintf("; the primary has made no error yet, so how long telling a %s error rate apart takes cannot be estimated", times(test.Detect))
	}
	total := c.CanaryRequests + c.PrimaryRequests
	weight, rps, base := c.CanaryRequests/total, total/run.Window.Seconds(), c.PrimaryErrors/c.PrimaryRequests
	return fmt.Sprintf("; at %.3g%% of %.3g rps with %.3g%% errors, telling a %s error rate apart %s takes about %s, longer than the step's hold of %s",
		100*weight, rps, 100*base, times(test.Detect), timesIn100(1-test.Beta), roughly(needs), run.Hold)
}

func compareLatency(ctx context.Context, q CompareQuerier, run CompareRun, at time.Time) Check {
	var hists [2]sequential.Histogram
	for i, query := range []string{run.Canary.Query, run.Primary.Query} {
		upper, cumulative, err := q.QueryBuckets(ctx, query, at)
		switch {
		case errors.Is(err, ErrNoData):
			continue
		case err != nil:
			return Check{Verdict: trancheapi.VerdictInconclusive, Err: err}
		}
		if hists[i], err = sequential.FromCumulative(upper, cumulative); err != nil {
			return Check{Verdict: trancheapi.VerdictInconclusive, Err: err}
		}
	}
	test := sequential.RankTest{
		Tolerated:   1 + float64(*run.Spec.Tolerance)/100,
		Alpha:       *run.Spec.FalseRollback,
		MinRequests: float64(*run.Spec.MinRequests),
	}
	result := test.Judge(hists[0], hists[1], run.Look)
	c := Check{Value: result.MedianRatio, HasValue: !math.IsNaN(result.MedianRatio) && !math.IsInf(result.MedianRatio, 0)}
	switch {
	case result.Outcome == sequential.Worse:
		c.Verdict, c.Final = trancheapi.VerdictFail, true
		c.Message = fmt.Sprintf("the canary is slower: median %s the primary's, rank test p=%.2g (below %.2g at run %d)",
			times(result.MedianRatio), result.P, result.Level, run.Look)
	case hists[0].Total() < test.MinRequests:
		return insufficient(c, run.Spec, fmt.Sprintf("%.0f of the %.0f requests the canary must serve before a verdict", hists[0].Total(), test.MinRequests))
	default:
		c.Verdict = trancheapi.VerdictPass
		c.Message = fmt.Sprintf("not slower than tolerated so far: median %s the primary's", times(result.MedianRatio))
	}
	return c
}

// insufficient applies the metric's policy to a run without enough requests.
func insufficient(c Check, spec trancheapi.CompareSpec, why string) Check {
	c.Message = "not enough data: " + why
	if spec.InsufficientData == trancheapi.InsufficientFail {
		c.Verdict = trancheapi.VerdictFail
	} else {
		c.Verdict = trancheapi.VerdictWaiting
	}
	return c
}

func times(ratio float64) string {
	if math.IsNaN(ratio) {
		return "unknown next to"
	}
	return fmt.Sprintf("%.2g×", ratio)
}

// roughly rounds a duration for a person: seconds under a minute, else minutes.
func roughly(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Second).String()
	}
	return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
}
