package main

import (
	"math"
	"math/rand/v2"
)

// A shape is something real traffic has and the steady traces lack. Each names the
// assumption of docs/analysis.md it tries, and whether it breaks it: a judge's false-rollback
// guarantee must hold on the shapes that keep the assumptions, and on those that break one
// the judge must notice from the data, or its false rollbacks say what the broken
// assumption costs.
type shape interface {
	name() string
	// tries is the assumption the shape tries, and breaks whether the traffic breaks it.
	tries() (assumption string, breaks bool)
}

// A trafficShape changes the traffic of each interval of a trace.
type trafficShape interface {
	shape
	apply(t *traffic, i, intervals int, rng *rand.Rand)
}

// shapes are the traces beyond the steady ones: shapes of their own, and families whose
// settings each trace draws (families.go).
var shapes = []shape{diurnal{}, sharedBursts{}, partlyBad{}, clusteredErrors{}, driftingSplit{},
	clusterFamily{}, driftFamily{},
	incidentFamily{3, 30, false}, incidentFamily{30, 120, false}, incidentFamily{120, 480, false},
	incidentFamily{3, 30, true}, incidentFamily{30, 120, true}, incidentFamily{120, 480, true},
	tailFamily{1.1, 1.5}, tailFamily{1.5, 2.5}}

// diurnal is the morning's climb: the volume doubles over the hold, and the base error rate
// climbs with the load.
type diurnal struct{}

func (diurnal) name() string { return "diurnal volume" }
func (diurnal) tries() (string, bool) {
	return "the base error rate drops out (volume and errors change together)", false
}
func (diurnal) apply(t *traffic, i, n int, _ *rand.Rand) {
	x := float64(i) / float64(n-1)
	t.volume = 0.6 + 0.8*math.Sin(x*math.Pi/2)
	t.baseRate *= t.volume
}

// sharedBursts is a shared dependency failing: in a tenth of the intervals both versions fail
// ten times as often.
type sharedBursts struct{}

func (sharedBursts) name() string { return "shared-dependency bursts" }
func (sharedBursts) tries() (string, bool) {
	return "the base error rate drops out (bursts in both versions at once)", false
}
func (sharedBursts) apply(t *traffic, _, _ int, rng *rand.Rand) {
	if rng.Float64() < 0.1 {
		t.baseRate = math.Min(0.5, 10*t.baseRate)
	}
}

// partlyBad is a canary bad on a share of its requests only: a tenth of them (one endpoint)
// fails as often as makes the canary's overall ratio its truth, the rest as the primary.
// Which share of the canary's traffic the endpoint gets moves from interval to interval.
type partlyBad struct{}

func (partlyBad) name() string { return "canary bad on 10% of requests" }
func (partlyBad) tries() (string, bool) {
	return "a ratio of error rates (the canary's errors come from one endpoint)", false
}
func (partlyBad) apply(t *traffic, _, _ int, rng *rand.Rand) {
	if t.errRatio == 1 {
		return
	}
	share := 0.1 * (0.5 + rng.Float64()) // the endpoint's share of the canary's requests
	onEndpoint := 1 + (t.errRatio-1)/0.1
	t.errRatio = (1 - share) + share*onEndpoint
}

// clusteredErrors is errors that come in clusters, in both versions: a failing client that
// retries five times, a request that fails its five sub-requests.
type clusteredErrors struct{}

func (clusteredErrors) name() string { return "clustered errors" }
func (clusteredErrors) tries() (string, bool) {
	return "errors are independent events", true
}
func (clusteredErrors) apply(t *traffic, _, _ int, _ *rand.Rand) { t.cluster = 5 }

// driftingSplit is a split that moves within the step (sticky clients piling up on the
// canary) while the base error rate climbs: the canary's share goes from 60% to 140% of its
// weight as the primary's errors go from half to one and a half times the base rate.
type driftingSplit struct{}

func (driftingSplit) name() string { return "split drifting with the error rate" }
func (driftingSplit) tries() (string, bool) {
	return "the split is constant within a step", true
}
func (driftingSplit) apply(t *traffic, i, n int, _ *rand.Rand) {
	x := float64(i) / float64(n-1)
	t.weight *= 0.6 + 0.8*x
	t.baseRate *= 0.5 + x
}
