package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/tranche-dev/tranche/analysis/sequential"
)

// Production errors are not independent events. Two shapes they take, which the parts of an
// interval cannot see as clusters on their own:
//
//   - incidents: a retry storm or a failing dependency makes errors for seconds to minutes,
//     on one version at a time, spread over consecutive parts, each of which looks ordinary;
//   - heavy-tailed clusters: most error events make one error or a few, a rare one hundreds,
//     so that a few minutes of parts tell little of how big the next may be.
//
// Each is a family of shapes, one per setting: the bench reports the worst.

// A partShape adds errors part by part, from a state that runs across the parts and the
// intervals of one trace (an incident outlasts a part).
type partShape interface {
	trafficShape
	// begin is a fresh state for one trace.
	begin() partErrors
}

// partErrors adds a part's errors to its counts; the part lasts partSeconds.
type partErrors interface {
	add(part *sequential.Counts, t traffic, rng *rand.Rand)
}

// partSeconds is how long a part of an interval lasts.
const partSeconds = 60.0 / partsPerInterval

// incidents are error storms that hit one version at a time, each version as often (so that
// a good canary's error rate per request is the primary's), or both at once (a dependency
// they share): they start as a Poisson process, last between shortest and longest seconds
// (log-uniform), and multiply the hit versions' error rate by boost while they last. Between
// them errors come at half the base rate, and incidents make the other half.
type incidents struct {
	shortest, longest, boost float64
	both                     bool
}

func (s incidents) name() string {
	hit := ""
	if s.both {
		hit = ", both versions"
	}
	return fmt.Sprintf("incidents of %g-%g s, errors x%g%s", s.shortest, s.longest, s.boost, hit)
}

func (incidents) tries() (string, bool) {
	return "errors are independent events (incidents outlast a part)", true
}

func (incidents) apply(t *traffic, _, _ int, _ *rand.Rand) { t.baseRate /= 2 }

func (s incidents) begin() partErrors { return &incidentState{shape: s} }

// meanDuration is the mean of the log-uniform duration.
func (s incidents) meanDuration() float64 {
	return (s.longest - s.shortest) / math.Log(s.longest/s.shortest)
}

// incidentState is the incident under way, if any, and when the next begins.
type incidentState struct {
	shape    incidents
	started  bool
	now      float64 // seconds into the trace at the part's start
	next     float64 // when the next incident begins
	until    float64 // when the one under way ends
	onCanary bool
}

func (st *incidentState) add(part *sequential.Counts, t traffic, rng *rand.Rand) {
	s := st.shape
	// Incidents make half the errors: rate × mean duration × (boost-1) × ½ (one version of
	// two) = ½ of the base rate, with t.baseRate already halved; half as many when each hits
	// both versions.
	perSecond := 1 / (s.meanDuration() * (s.boost - 1))
	if s.both {
		perSecond /= 2
	}
	if !st.started {
		st.started, st.next = true, rng.ExpFloat64()/perSecond
	}
	end := st.now + partSeconds
	for cursor := st.now; cursor < end; {
		if cursor >= st.until && st.next < end {
			// An incident begins at next (or at once, had it been due in the past).
			start := math.Max(cursor, st.next)
			st.until = start + math.Exp(math.Log(s.shortest)+rng.Float64()*math.Log(s.longest/s.shortest))
			st.onCanary = rng.Float64() < 0.5
			st.next = start + rng.ExpFloat64()/perSecond
			cursor = start
		}
		if cursor >= st.until {
			break
		}
		overlap := math.Min(end, st.until) - cursor
		extra := func(requests, rate float64) float64 {
			return poisson(rng, requests*overlap/partSeconds*rate*(s.boost-1))
		}
		if st.onCanary || s.both {
			part.CanaryErrors += extra(part.CanaryRequests, math.Min(1, t.baseRate*t.errRatio))
		}
		if !st.onCanary || s.both {
			part.PrimaryErrors += extra(part.PrimaryRequests, t.baseRate)
		}
		cursor += overlap
	}
	st.now = end
}

// heavyTails are error events whose number of errors is Pareto-distributed (a discrete
// Pareto with index alpha, at most a thousand): most make one, a rare one hundreds.
type heavyTails struct{ alpha float64 }

func (s heavyTails) name() string { return fmt.Sprintf("heavy-tailed clusters, index %g", s.alpha) }

func (heavyTails) tries() (string, bool) {
	return "errors are independent events (a rare event makes hundreds)", true
}

func (s heavyTails) apply(t *traffic, _, _ int, _ *rand.Rand) { t.tail = s.alpha }

// maxCluster is the most errors one event of a heavy tail makes.
const maxCluster = 1000

// paretoMeans caches paretoMean by index: the traces ask for it for every part.
var paretoMeans sync.Map

// paretoMean is the mean number of errors of an event with a heavy tail of index alpha.
func paretoMean(alpha float64) float64 {
	if m, ok := paretoMeans.Load(alpha); ok {
		return m.(float64)
	}
	mean := 0.0
	for k := 1; k <= maxCluster; k++ {
		mean += float64(k) * paretoP(alpha, k)
	}
	paretoMeans.Store(alpha, mean)
	return mean
}

// paretoP is the chance an event makes k errors: floor(U^(-1/alpha)), capped.
func paretoP(alpha float64, k int) float64 {
	if k == maxCluster {
		return math.Pow(float64(k), -alpha)
	}
	return math.Pow(float64(k), -alpha) - math.Pow(float64(k+1), -alpha)
}

// heavyClustered draws the errors of events of a heavy tail with mean errors in all.
func heavyClustered(rng *rand.Rand, mean, alpha float64) float64 {
	events, errors := poisson(rng, mean/paretoMean(alpha)), 0.0
	for range int(events) {
		errors += math.Min(maxCluster, math.Floor(math.Pow(1-rng.Float64(), -1/alpha)))
	}
	return errors
}
