package main

import (
	"math/rand/v2"
	"slices"

	"github.com/tranche-dev/tranche/analysis/sequential"
)

// The bound is what any test could catch in the traffic: the power of the most powerful
// fixed-horizon test that sees all of a step's data at the end of its hold. Given the errors
// of both versions, the canary's share of them is binomial (docs/analysis.md), so by
// Neyman-Pearson the most powerful test of "no worse" against "r times the errors" rejects
// when the log-likelihood ratio of the totals, sequential.LogLR(totals, 1, r), is above a
// bound. The bound is set on good traces of the same traffic, drawn from seeds of their own,
// so that the test falsely rolls back as often as Tranche does. A sequential judge, which
// must decide before the data is all in, can at best match it. It is not randomised at ties,
// so where errors are few it is a little under the true bound.

// boundCalibrationRuns is how many good traces each traffic's bound is set on.
const boundCalibrationRuns = 2000

// calibrationSeed keeps the calibration's traces apart from the bench's.
const calibrationSeed = 1 << 32

// boundPowers is, for each scenario of an error-rate truth in the list, the share of its
// bench traces (the seeds bench draws them from) that the fixed-horizon test rolls back at
// a false-rollback rate of alpha.
func boundPowers(list []scenario, runs int, alpha float64) map[scenario]float64 {
	powers := map[scenario]float64{}
	limits := map[scenario]float64{} // by the cell with errRatio the ratio tested
	for si, s := range list {
		if s.good() || s.latency != 1 {
			continue
		}
		key := s.cell()
		key.errRatio = s.errRatio
		limit, ok := limits[key]
		if !ok {
			limit = boundLimit(s.cell(), s.errRatio, alpha)
			limits[key] = limit
		}
		caught := 0
		for run := range runs {
			tr := draw(s, horizon, rand.New(rand.NewPCG(uint64(si), uint64(run))), false)
			if sequential.LogLR(totals(tr), 1, s.errRatio) > limit {
				caught++
			}
		}
		powers[s] = float64(caught) / float64(runs)
	}
	return powers
}

// boundLimit is the log-likelihood ratio that good traces of a traffic exceed with chance
// alpha, for the test of ratio r.
func boundLimit(good scenario, r, alpha float64) float64 {
	llrs := make([]float64, boundCalibrationRuns)
	for run := range llrs {
		tr := draw(good, horizon, rand.New(rand.NewPCG(calibrationSeed+uint64(run), uint64(r*1000))), false)
		llrs[run] = sequential.LogLR(totals(tr), 1, r)
	}
	slices.Sort(llrs)
	return llrs[min(len(llrs)-1, int((1-alpha)*float64(len(llrs))))]
}

// totals adds up a trace's counts.
func totals(tr []interval) sequential.Counts {
	var c sequential.Counts
	for _, iv := range tr {
		c = c.Plus(iv.counts)
	}
	return c
}
