package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The bench is deterministic: the same seeds give the same table.
func TestTheBenchIsDeterministic(t *testing.T) {
	var first, second bytes.Buffer
	report(&first, bench(5))
	report(&second, bench(5))
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
	for _, j := range []judge{flagger{thresholdsFor(s)}, argo{thresholdsFor(s)}, kayenta{}, newTranche()} {
		rolled := false
		for k := 1; k <= horizon && !rolled; k++ {
			rolled = j.rollback(k, tr)
		}
		assert.True(t, rolled, "%s kept a canary failing every request", j.name())
	}
	assert.True(t, strings.HasPrefix(newTranche().name(), "tranche"))
}
