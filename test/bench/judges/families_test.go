package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tranche-dev/tranche/analysis/sequential"
)

// A family's traces each draw their settings, within the family's ranges.
func TestFamiliesDrawTheirSettingsPerTrace(t *testing.T) {
	rng := newRNG(7)
	seen := map[incidents]bool{}
	for range 50 {
		f := incidentFamily{30, 120, true}
		in := f.pick(rng).(incidents)
		assert.True(t, in.both)
		assert.GreaterOrEqual(t, in.shortest, 30.0)
		assert.LessOrEqual(t, in.longest, 120.0)
		assert.Greater(t, in.longest, in.shortest)
		assert.True(t, in.boost >= 5 && in.boost <= 50, "boost %g", in.boost)
		seen[in] = true
	}
	assert.Len(t, seen, 50, "every trace its own settings")
	for range 50 {
		tail := tailFamily{1.1, 1.5}.pick(rng).(heavyTails)
		assert.True(t, tail.alpha >= 1.1 && tail.alpha <= 1.5, "index %g", tail.alpha)
		drift := driftFamily{}.pick(rng).(drifting)
		assert.True(t, drift.factor >= 1.0/3 && drift.factor <= 3, "factor %g", drift.factor)
	}
}

// Incidents on both versions at once add errors to both in the parts they hit; on one version
// at a time, to one, each version as often.
func TestIncidentsHitTheVersionsTheySay(t *testing.T) {
	hits := func(both bool) (together, canary, primary int) {
		rng := newRNG(11)
		st := incidents{shortest: 60, longest: 61, boost: 50, both: both}.begin()
		tr := traffic{volume: 1, weight: 0.5, baseRate: 0.01, errRatio: 1, cluster: 1}
		for range 20000 { // 83 hours of parts of 15 s
			part := sequential.Counts{CanaryRequests: 1000, PrimaryRequests: 1000}
			st.add(&part, tr, rng)
			switch {
			case part.CanaryErrors > 0 && part.PrimaryErrors > 0:
				together++
			case part.CanaryErrors > 0:
				canary++
			case part.PrimaryErrors > 0:
				primary++
			}
		}
		return together, canary, primary
	}
	together, canary, primary := hits(true)
	assert.Greater(t, together, 100, "parts of incidents on both versions")
	assert.Zero(t, canary+primary, "an incident on both versions hits both in each part")
	together, canary, primary = hits(false)
	assert.Less(t, together, (canary+primary)/20, "one version at a time: two versions in one part only where one incident ends and another begins")
	assert.InDelta(t, 1, float64(canary)/float64(primary), 0.5, "each version as often: %d and %d parts", canary, primary)
}

// The primary's past is the primary alone at the step's volume, in the trace's own shape: an
// hour of parts, steady without dispersion, incidents on one version dispersed.
func TestThePastIsThePrimaryAloneInTheTracesShape(t *testing.T) {
	s := scenario{weight: 0.5, rps: 100, baseRate: 0.01, errRatio: 1, latency: 1}
	steady := past(s, nil, pastIntervals, newRNG(13))
	assert.Len(t, steady, pastIntervals*partsPerInterval)
	requests := 0.0
	for _, p := range steady {
		requests += p.Requests
	}
	assert.InDelta(t, 100*15, requests/float64(len(steady)), 15, "all the traffic, a part of 15 s")
	assert.Less(t, sequential.LearnPast(steady).Dispersion, 3.0, "the largest of six noisy scales")
	bursty := past(s, incidents{shortest: 60, longest: 120, boost: 20}, pastIntervals, newRNG(13))
	assert.Greater(t, sequential.LearnPast(bursty).Dispersion, 10.0)
}
