package main

import (
	"math/rand/v2"

	"github.com/tranche-dev/tranche/analysis/sequential"
)

// Before the step, the primary served all the traffic, and Prometheus kept its counters: the
// Compare judge may learn from that past how bursty the errors are (sequential.LearnPast).
// The bench draws it for each trace in the trace's own shape, with the settings its family
// drew for the trace (the same incidents, the same tail), as the traffic was at the step's
// start: what a shape does over the step (a drifting base rate, the morning's climb) it does
// not do before it.

// pastIntervals is how much of the primary's past the judge reads: four hours (one hour
// holds no incident of minutes on the primary often enough to let 1.6% of good canaries fail).
const pastIntervals = 240

// past draws the primary's requests and errors, part by part, over intervals of one minute
// before the step, serving all the traffic. An incident on one version at a time hits the
// primary as often as during the step (those on the canary, which had no requests, make
// nothing).
func past(s scenario, sh shape, intervals int, rng *rand.Rand) []sequential.Tally {
	var extra partErrors
	if ps, ok := sh.(partShape); ok {
		extra = ps.begin()
	}
	out := make([]sequential.Tally, 0, intervals*partsPerInterval)
	for range intervals {
		t := traffic{volume: 1, weight: 0, baseRate: s.baseRate, errRatio: 1, cluster: 1}
		if ts, ok := sh.(trafficShape); ok {
			ts.apply(&t, 0, horizon, rng)
		}
		perPart := s.rps * 60 * t.volume / partsPerInterval
		for range partsPerInterval {
			np := poisson(rng, perPart)
			part := sequential.Counts{PrimaryRequests: np, PrimaryErrors: t.errors(rng, np*t.baseRate)}
			if extra != nil {
				extra.add(&part, t, rng)
			}
			out = append(out, sequential.Tally{Requests: part.PrimaryRequests, Errors: part.PrimaryErrors})
		}
	}
	return out
}
