package main

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tranche-dev/tranche/analysis/sequential"
)

// The bench is deterministic: the same seeds give the same table.
func TestTheBenchIsDeterministic(t *testing.T) {
	var first, second bytes.Buffer
	report(&first, measure(5))
	report(&second, measure(5))
	require.Equal(t, first.String(), second.String())
	for _, name := range judgeNames {
		assert.Contains(t, first.String(), "BENCH judge="+name+" false_rollback=")
	}
}

// The traces carry the truth they are drawn from: a canary with twice the errors shows about
// twice the error rate, and one twice as slow about twice the median latency.
func TestTracesCarryTheirTruth(t *testing.T) {
	s := scenario{weight: 0.5, rps: 500, baseRate: 0.01, errRatio: 2, latency: 2}
	var canaryErrors, canaryRequests, primaryErrors, primaryRequests float64
	for i, iv := range trace(s, 10, newRNG(1)) {
		canaryErrors += iv.counts.CanaryErrors
		canaryRequests += iv.counts.CanaryRequests
		primaryErrors += iv.counts.PrimaryErrors
		primaryRequests += iv.counts.PrimaryRequests
		if i == 0 {
			ratio := iv.canaryLatency.Quantile(0.5) / iv.primaryLatency.Quantile(0.5)
			assert.InDelta(t, 2, ratio, 0.3, "median latency ratio")
		}
	}
	assert.InDelta(t, 2, (canaryErrors/canaryRequests)/(primaryErrors/primaryRequests), 0.2, "error rate ratio")
	assert.InDelta(t, 0.5, canaryRequests/(canaryRequests+primaryRequests), 0.01, "weight")
}

// Every judge rolls back a canary that fails every request, and none rolls back a canary
// identical to the primary in a trace without noise.
func TestJudgesAgreeOnTheObvious(t *testing.T) {
	s := scenario{weight: 0.5, rps: 100, baseRate: 0.01, errRatio: 100, latency: 1}
	tr := trace(s, horizon, newRNG(2))
	for _, e := range tutorialLineup() {
		assert.True(t, decide(e.build(s), tr).rolledBack, "%s kept a canary failing every request", e.name)
	}
}

// The bound's limit, set on good traces, is exceeded by fresh good traces of the same
// traffic about as often as asked.
func TestTheBoundFalselyRollsBackAsOftenAsAsked(t *testing.T) {
	good := scenario{weight: 0.5, rps: 100, baseRate: 0.01, errRatio: 1, latency: 1}
	const alpha = 0.05
	limit := boundLimit(good, 2, alpha)
	over := 0
	const runs = 2000
	for run := range runs {
		tr := draw(good, horizon, rand.New(rand.NewPCG(7, uint64(run))), false)
		if sequential.LogLR(totals(tr), 1, 2) > limit {
			over++
		}
	}
	assert.InDelta(t, alpha, float64(over)/runs, 0.015)
}

// Recalibrated, every peer falsely rolls back no more often than Tranche on the steady
// traces.
func TestRecalibratedPeersFalselyRollBackNoMoreThanTranche(t *testing.T) {
	f := measure(20)
	for _, name := range []string{flaggerName + atTranche, argoName + atTranche, kayentaName + atTranche} {
		assert.LessOrEqual(t, summarise(f.steady[name]).falseRollback, f.alpha, name)
	}
	assert.Greater(t, f.cal.flagger, tutorialTimes, "Tranche's rate is below the tutorials' thresholds'")
	assert.Greater(t, f.cal.kayentaZ, kayentaZ)
}

func TestStrictestFindsTheLeastSettingUnderTheRate(t *testing.T) {
	rate := func(x float64) float64 { return 1 / x } // falls as x grows
	assert.InDelta(t, 20, strictest(0.05, 1, 100, rate), 0.01)
}

// The shapes do to the traffic what they say: clustered errors are dispersed about nine
// times (geometric clusters of mean five), the steady ones not; the drifting split moves the
// canary's share.
func TestShapesDoWhatTheySay(t *testing.T) {
	dispersion := func(sh shape) float64 {
		s := scenario{weight: 0.5, rps: 500, baseRate: 0.01, errRatio: 1, latency: 1, shape: sh}
		var parts []sequential.Counts
		for _, iv := range draw(s, horizon, newRNG(3), false) {
			parts = append(parts, iv.parts[:]...)
		}
		return sequential.Dispersion(parts, 1)
	}
	assert.Less(t, dispersion(nil), 1.5)
	assert.InDelta(t, 9, dispersion(clusteredErrors{}), 3)

	s := scenario{weight: 0.1, rps: 500, baseRate: 0.01, errRatio: 1, latency: 1, shape: driftingSplit{}}
	tr := draw(s, horizon, newRNG(4), false)
	share := func(iv interval) float64 {
		return iv.counts.CanaryRequests / (iv.counts.CanaryRequests + iv.counts.PrimaryRequests)
	}
	assert.InDelta(t, 0.06, share(tr[0]), 0.01)
	assert.InDelta(t, 0.14, share(tr[horizon-1]), 0.01)
	for _, sh := range shapes {
		assumption, _ := sh.tries()
		assert.NotEmpty(t, assumption, sh.name())
	}
}
