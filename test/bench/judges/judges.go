package main

import (
	"math"

	"github.com/tranche-dev/tranche/analysis/sequential"
	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// A judge sees one interval at a time and says whether to roll back now.
type judge interface {
	// rollback is asked after each interval k (1, 2, ...), with every interval so far.
	rollback(k int, seen []interval) bool
}

// thresholds are what a person who knows the service's baseline would set for the fixed-
// threshold judges: the error rate and the p99 latency may be some times the baseline's
// (half again, 1.5, in the peers' tutorials).
type thresholds struct{ maxErrorRate, maxP99 float64 }

func thresholdsFor(s scenario, times float64) thresholds {
	return thresholds{maxErrorRate: times * s.baseRate, maxP99: times * baselineP99}
}

// tutorialTimes is the thresholds' multiple of the baseline in the peers' tutorials.
const tutorialTimes = 1.5

// baselineP99 is the primary's true 99th percentile latency.
var baselineP99 = medianLatency * math.Exp(latencySpread*2.3263)

// failed says whether the canary failed the thresholds in one interval. An interval without
// canary requests says nothing.
func (t thresholds) failed(iv interval) bool {
	if iv.counts.CanaryRequests == 0 {
		return false
	}
	errorRate := iv.counts.CanaryErrors / iv.counts.CanaryRequests
	return errorRate > t.maxErrorRate || iv.canaryLatency.Quantile(0.99) > t.maxP99
}

// flagger fails an interval over a threshold and rolls back after 5 failed intervals (its
// tutorials' threshold: 5, interval: 1m).
type flagger struct{ limits thresholds }

func (j flagger) rollback(k int, seen []interval) bool {
	failures := 0
	for _, iv := range seen[:k] {
		if j.limits.failed(iv) {
			failures++
		}
	}
	return failures >= 5
}

// argo rolls back at the first failed interval (failureLimit: 0).
type argo struct{ limits thresholds }

func (j argo) rollback(k int, seen []interval) bool { return j.limits.failed(seen[k-1]) }

// kayenta compares each interval's canary with its primary by Mann-Whitney, on errors (each
// request a 0 or a 1) and on latency, and rolls back when either is worse with a z above
// its bound (at 98% confidence, its default: 2.0537).
type kayenta struct{ z float64 }

// kayentaZ is the one-sided bound of Kayenta's default 98% confidence.
const kayentaZ = 2.0537

func (j kayenta) rollback(k int, seen []interval) bool {
	iv := seen[k-1]
	return errorsZ(iv.counts) > j.z || sequential.MannWhitneyZ(iv.canaryLatency, iv.primaryLatency) > j.z
}

// errorsZ is the Mann-Whitney statistic on requests scored 0 (ok) or 1 (error): with so many
// ties it is the two-proportion z test.
func errorsZ(c sequential.Counts) float64 {
	canary := sequential.Histogram{Upper: []float64{0, 1}, Count: []float64{c.CanaryRequests - c.CanaryErrors, c.CanaryErrors}}
	primary := sequential.Histogram{Upper: []float64{0, 1}, Count: []float64{c.PrimaryRequests - c.PrimaryErrors, c.PrimaryErrors}}
	z := sequential.MannWhitneyZ(canary, primary)
	if math.IsNaN(z) {
		return 0
	}
	return z
}

// tranche is the Compare judge with its defaults: the sequential rate test and the rank test
// on everything since the step began. The rate test reads the counts in parts, as the
// controller asks Prometheus for them; totalsOnly reads the window's totals alone, as it did
// before it read parts.
type tranche struct {
	rates      sequential.RateTest
	ranks      sequential.RankTest
	totalsOnly bool
	// past is what the primary's errors before the step say (sequential.LearnPast); the
	// zero Past says nothing.
	past sequential.Past
	// noPast leaves the primary's past unread, as the judge did before it read it.
	noPast bool
}

// A learner is a judge that reads the primary's past before the step.
type learner interface {
	judge
	after(past []sequential.Tally) judge
}

func (j tranche) after(past []sequential.Tally) judge {
	if !j.totalsOnly && !j.noPast {
		j.past = sequential.LearnPast(past)
	}
	return j
}

func newTranche() tranche {
	return tranche{
		rates: sequential.RateTest{Tolerated: 1, Detect: 2, Alpha: 0.01, Beta: 0.01, MinRequests: trancheapi.DefaultMinRequests},
		ranks: sequential.RankTest{Tolerated: 1.1, Alpha: 0.01, MinRequests: trancheapi.DefaultLatencyMinRequests},
	}
}

func (j tranche) rollback(k int, seen []interval) bool {
	var counts sequential.Counts
	var parts []sequential.Counts
	canary := sequential.Histogram{Upper: buckets, Count: make([]float64, len(buckets))}
	primary := sequential.Histogram{Upper: buckets, Count: make([]float64, len(buckets))}
	for _, iv := range seen[:k] {
		counts = counts.Plus(iv.counts)
		parts = append(parts, iv.parts[:]...)
		for i := range buckets {
			canary.Count[i] += iv.canaryLatency.Count[i]
			primary.Count[i] += iv.primaryLatency.Count[i]
		}
	}
	rates := j.rates.JudgePartsAfter(parts, j.past)
	if j.totalsOnly {
		rates = j.rates.Judge(counts)
	}
	return rates.Outcome == sequential.Worse || j.ranks.Judge(canary, primary, k).Outcome == sequential.Worse
}
