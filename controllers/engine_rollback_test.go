package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// workloadErrorRateQuery is the error rate of the workload measured: the canary's for the
// steps, the primary's when a paced rollback watches the primary.
const workloadErrorRateQuery = `100 * (sum(rate(tranche_test_requests_total{namespace="{{ .Namespace }}", service="{{ .WorkloadService }}", code=~"5.."}[5s])) or vector(0))
  / sum(rate(tranche_test_requests_total{namespace="{{ .Namespace }}", service="{{ .WorkloadService }}"}[5s]))`

// A paced rollback measures the primary with the Rollout's threshold metrics, on the real
// Prometheus, before it gives it a larger share. Here the primary answers 30% errors: the way
// back holds at 50% saying so, and once the progress deadline passes everything goes back
// to the primary with a warning.
func TestAPacedRollbackWatchesThePrimary(t *testing.T) {
	t.Parallel()
	ns := cp.Namespace(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	require.NoError(t, cp.Client.Create(ctx, &trancheapi.MetricTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "workload-error-rate"},
		Spec:       trancheapi.MetricTemplateSpec{Prometheus: &trancheapi.PrometheusSource{Address: prom.URL()}, Query: workloadErrorRateQuery},
	}))
	go func() { // the primary's answers, as its proxies would count them
		for tick := time.NewTicker(100 * time.Millisecond); ctx.Err() == nil; <-tick.C {
			exporter.Serve(ns, "podinfo-primary", 70, 200, 20*time.Millisecond)
			exporter.Serve(ns, "podinfo-primary", 30, 500, 20*time.Millisecond)
		}
	}()
	ro := canaryRollout(ns)
	ro.Spec.Analysis.Metrics[0].TemplateRef.Name = "workload-error-rate"
	ro.Spec.Steps[1].Hold = &metav1.Duration{Duration: time.Minute} // the abort lands here
	ro.Spec.Rollback = &trancheapi.Rollback{Pace: trancheapi.RollbackSteps, Hold: &metav1.Duration{Duration: time.Second}}
	ro.Spec.ProgressDeadline = &metav1.Duration{Duration: 10 * time.Second}
	e := startScenario(t, prom, exporter, ro)

	e.release(goodImage2)
	e.waitForWeight(50, time.Minute)
	e.annotate(trancheapi.AnnotationAbort, "a1")
	require.Eventually(t, func() bool {
		return strings.Contains(e.get().Status.Message, "50% of traffic on the canary while the primary fails error-rate")
	}, 20*time.Second, 50*time.Millisecond, "the way back holds while the primary fails; last said %q", e.get().Status.Message)
	assert.Equal(t, int32(50), e.weights.list()[len(e.weights.list())-1], "the primary is given no more")

	waitForEvent(t, e.get(), "RollbackHurried")
	e.waitForWeight(0, 20*time.Second)
	seen := e.weights.list()
	assert.Equal(t, []int32{50, 0}, seen[len(seen)-2:], "from 50%% the way back went straight to the primary, never on through 5%%: %v", seen)
	assert.Equal(t, trancheapi.PhaseAborted, e.get().Status.Phase)
}
