package main

import (
	"math"
	"math/rand/v2"

	"github.com/tranche-dev/tranche/analysis/sequential"
)

// A scenario is one kind of canary under one kind of traffic; its truth is known.
type scenario struct {
	weight   float64 // the canary's share of requests
	rps      float64 // requests a second, both versions
	baseRate float64 // the primary's error rate
	errRatio float64 // the canary's error rate over the primary's
	latency  float64 // the canary's latency over the primary's
}

func (s scenario) good() bool { return s.errRatio == 1 && s.latency == 1 }

// interval is what one analysis interval of one minute shows of both versions.
type interval struct {
	counts                        sequential.Counts
	canaryLatency, primaryLatency sequential.Histogram
}

// Prometheus's default histogram buckets, in seconds.
var buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, math.Inf(1)}

// The primary's latency: log-normal with a median of 50 ms and a log-sd of 0.5.
const (
	medianLatency = 0.05
	latencySpread = 0.5
)

// trace draws the intervals of one run. Requests, errors and the latency buckets' counts are
// Poisson: the number of requests in a minute, and how they fall, vary as real traffic does.
func trace(s scenario, intervals int, rng *rand.Rand) []interval {
	out := make([]interval, intervals)
	perInterval := s.rps * 60
	for i := range out {
		nc := poisson(rng, perInterval*s.weight)
		np := poisson(rng, perInterval*(1-s.weight))
		out[i] = interval{
			counts: sequential.Counts{
				CanaryRequests: nc, CanaryErrors: poisson(rng, nc*math.Min(1, s.baseRate*s.errRatio)),
				PrimaryRequests: np, PrimaryErrors: poisson(rng, np*s.baseRate),
			},
			canaryLatency:  latencies(rng, nc, medianLatency*s.latency),
			primaryLatency: latencies(rng, np, medianLatency),
		}
	}
	return out
}

// latencies puts n requests into the buckets, each count Poisson around its expectation.
func latencies(rng *rand.Rand, n, median float64) sequential.Histogram {
	h := sequential.Histogram{Upper: buckets, Count: make([]float64, len(buckets))}
	below := 0.0
	for i, upper := range buckets {
		cdf := 1.0
		if !math.IsInf(upper, 1) {
			cdf = 0.5 * math.Erfc(-math.Log(upper/median)/(latencySpread*math.Sqrt2))
		}
		h.Count[i] = poisson(rng, n*(cdf-below))
		below = cdf
	}
	return h
}

// poisson draws a Poisson variate: by multiplication for small means, else from the normal
// approximation (rounded, never negative).
func poisson(rng *rand.Rand, mean float64) float64 {
	switch {
	case mean <= 0:
		return 0
	case mean > 60:
		return math.Max(0, math.Round(mean+math.Sqrt(mean)*rng.NormFloat64()))
	}
	limit, k, p := math.Exp(-mean), 0.0, 1.0
	for {
		p *= rng.Float64()
		if p <= limit {
			return k
		}
		k++
	}
}
