package controllers

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// A dry-run metric that fails at every run, beside a real one that passes: the release is
// promoted, and the dry run's failures are in status, in the events and in the metrics. The
// rollout's record in the history has its three steps, for replay.
func TestFailingDryRunMetricDoesNotStopAGoodRelease(t *testing.T) {
	t.Parallel()
	ro := canaryRollout(cp.Namespace(t))
	ro.Spec.Analysis.Metrics = append(ro.Spec.Analysis.Metrics, trancheapi.Metric{
		Name: "strict", TemplateRef: &trancheapi.NamespacedObjectReference{Name: "error-rate"}, Max: ptr.To(-1.0), DryRun: true,
	})
	e := startScenario(t, prom, exporter, ro)
	e.release(goodImage2)

	ro = e.waitForPhase(trancheapi.PhaseSucceeded, time.Minute)
	assert.Equal(t, []int32{0, 5, 50, 100, 0}, e.weights.list())
	dryFailures := 0
	for _, c := range ro.Status.LastChecks {
		switch c.Metric {
		case "strict":
			assert.True(t, c.DryRun, "a dry-run metric's check is marked")
			if c.Verdict == trancheapi.VerdictFail {
				dryFailures++
			}
		case "error-rate":
			assert.False(t, c.DryRun)
		}
	}
	// The real metric passed, and never failed. (Its last check may be Inconclusive: on a busy
	// machine a query can come before Prometheus has two samples in its window.)
	assert.GreaterOrEqual(t, testutil.ToFloat64(analysisChecks.WithLabelValues(e.ns, "podinfo", "error-rate", "Pass", "false")), 1.0)
	assert.Equal(t, 0.0, testutil.ToFloat64(analysisChecks.WithLabelValues(e.ns, "podinfo", "error-rate", "Fail", "false")))
	assert.Positive(t, dryFailures, "the dry run's failures are recorded: %+v", ro.Status.LastChecks)
	assert.Zero(t, ro.Status.FailedChecks, "dry-run failures are not counted")
	waitForEvent(t, ro, "DryRunFailed")
	assert.GreaterOrEqual(t, testutil.ToFloat64(analysisChecks.WithLabelValues(e.ns, "podinfo", "strict", "Fail", "true")), 1.0)
	assert.Equal(t, 0.0, testutil.ToFloat64(analysisChecks.WithLabelValues(e.ns, "podinfo", "strict", "Fail", "false")))

	require.Len(t, ro.Status.History, 1)
	record := ro.Status.History[0]
	assert.Equal(t, ro.Status.StableRevision, record.Revision)
	assert.Equal(t, trancheapi.OutcomeSucceeded, record.Outcome)
	require.Len(t, record.Steps, 3)
	for i, weight := range []int32{5, 50, 100} {
		s := record.Steps[i]
		assert.Equal(t, int32(i), s.Step)
		assert.Equal(t, weight, s.Weight)
		assert.GreaterOrEqual(t, s.EndedAt.Sub(s.StartedAt.Time), 2*time.Second, "step %d held its hold", i+1)
	}
}
