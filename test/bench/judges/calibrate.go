package main

import (
	"math/rand/v2"
)

// The peers' own settings fail good canaries far more often than Tranche does, so comparing
// their detection with Tranche's compares tests of different sizes. Recalibrated, each peer
// gets the setting that falsely rolls back no more often than Tranche does on the steady
// traces: the fixed thresholds a larger multiple of the baseline, Kayenta a larger z. The
// setting is found on the very traces it is then measured on, which can only flatter it.

// calibration is each recalibrated peer's setting.
type calibration struct {
	flagger, argo float64 // the thresholds' multiples of the baseline
	kayentaZ      float64
}

// recalibrate finds, for each peer, the strictest setting whose false rollbacks on the good
// scenarios of list are at most alpha.
func recalibrate(list []scenario, runs int, alpha float64) calibration {
	var good [][][]interval // by good scenario, by run
	var goodScenarios []scenario
	for si, s := range list {
		if !s.good() {
			continue
		}
		var traces [][]interval
		for run := range runs {
			traces = append(traces, trace(s, horizon, rand.New(rand.NewPCG(uint64(si), uint64(run)))))
		}
		good, goodScenarios = append(good, traces), append(goodScenarios, s)
	}
	falseRollbacks := func(build func(scenario) judge) float64 {
		rolled, all := 0, 0
		for i, s := range goodScenarios {
			j := build(s)
			for _, tr := range good[i] {
				all++
				if decide(j, tr).rolledBack {
					rolled++
				}
			}
		}
		return float64(rolled) / float64(all)
	}
	return calibration{
		flagger: strictest(alpha, 1, 100, func(x float64) float64 {
			return falseRollbacks(func(s scenario) judge { return flagger{thresholdsFor(s, x)} })
		}),
		argo: strictest(alpha, 1, 100, func(x float64) float64 {
			return falseRollbacks(func(s scenario) judge { return argo{thresholdsFor(s, x)} })
		}),
		kayentaZ: strictest(alpha, 0, 20, func(z float64) float64 {
			return falseRollbacks(func(scenario) judge { return kayenta{z} })
		}),
	}
}

// strictest is the least x in [lo, hi] with rate(x) <= alpha, for a rate that falls as x
// grows: bisection, to a ten-thousandth of the range.
func strictest(alpha, lo, hi float64, rate func(float64) float64) float64 {
	for range 14 {
		mid := (lo + hi) / 2
		if rate(mid) <= alpha {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}
