package controllers

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// linkerdRollout is canaryRollout through Linkerd, judged by the linkerd provider's built-in
// success rate: its query over linkerd-proxy's metric names, as the real Prometheus scraped
// them from the traffic the test generates.
func linkerdRollout(ns string) *trancheapi.Rollout {
	ro := canaryRollout(ns)
	ro.Spec.Provider = trancheapi.Provider{Linkerd: &trancheapi.LinkerdProvider{}}
	// The built-in query's window is the analysis interval: five scrapes, never one.
	ro.Spec.Analysis.Interval = &metav1.Duration{Duration: 5 * time.Second}
	ro.Spec.Analysis.Metrics = []trancheapi.Metric{{Name: "success-rate", Builtin: trancheapi.BuiltinRequestSuccessRate, Min: ptr.To(95.0)}}
	return ro
}

func TestLinkerdGoodCanaryIsPromoted(t *testing.T) {
	t.Parallel()
	e := startScenario(t, prom, exporter, linkerdRollout(cp.Namespace(t)))
	e.release(goodImage2)

	ro := e.waitForPhase(trancheapi.PhaseSucceeded, 2*time.Minute)
	assert.Equal(t, []int32{0, 5, 50, 100, 0}, e.weights.list(), "the canary took 5%, 50% then 100%, then the primary took all back")
	e.assertPrimaryOnly(goodImage2)
	for _, c := range ro.Status.LastChecks {
		assert.Equal(t, trancheapi.VerdictPass, c.Verdict, "%s = %s: %s", c.Metric, c.Value, c.Message)
	}
}

func TestLinkerdBadCanaryIsRolledBackAtFivePercent(t *testing.T) {
	t.Parallel()
	e := startScenario(t, prom, exporter, linkerdRollout(cp.Namespace(t)))
	e.release(badImage)

	ro := e.waitForPhase(trancheapi.PhaseFailed, 2*time.Minute)
	e.waitForWeight(0, 10*time.Second)
	assert.Equal(t, []int32{0, 5, 0}, e.weights.list(), "rolled back at the first step")
	e.assertPrimaryOnly(goodImage)
	assert.Equal(t, trancheapi.VerdictFail, ro.Status.LastChecks[0].Verdict, "%s: %s", ro.Status.LastChecks[0].Value, ro.Status.LastChecks[0].Message)
	assert.Contains(t, ro.Status.Message, "2 failed analysis runs")
}

// istioRollout is canaryRollout through Istio, judged by the istio provider's built-in
// success rate over Istio's standard metric names.
func istioRollout(ns string) *trancheapi.Rollout {
	ro := linkerdRollout(ns)
	ro.Spec.Provider = trancheapi.Provider{Istio: &trancheapi.IstioProvider{}}
	return ro
}

func TestIstioGoodCanaryIsPromoted(t *testing.T) {
	t.Parallel()
	e := startScenario(t, prom, exporter, istioRollout(cp.Namespace(t)))
	e.release(goodImage2)

	ro := e.waitForPhase(trancheapi.PhaseSucceeded, 2*time.Minute)
	assert.Equal(t, []int32{0, 5, 50, 100, 0}, e.weights.list(), "the canary took 5%, 50% then 100%, then the primary took all back")
	e.assertPrimaryOnly(goodImage2)
	for _, c := range ro.Status.LastChecks {
		assert.Equal(t, trancheapi.VerdictPass, c.Verdict, "%s = %s: %s", c.Metric, c.Value, c.Message)
	}
}

func TestIstioBadCanaryIsRolledBackAtFivePercent(t *testing.T) {
	t.Parallel()
	e := startScenario(t, prom, exporter, istioRollout(cp.Namespace(t)))
	e.release(badImage)

	ro := e.waitForPhase(trancheapi.PhaseFailed, 2*time.Minute)
	e.waitForWeight(0, 10*time.Second)
	assert.Equal(t, []int32{0, 5, 0}, e.weights.list(), "rolled back at the first step")
	e.assertPrimaryOnly(goodImage)
	assert.Equal(t, trancheapi.VerdictFail, ro.Status.LastChecks[0].Verdict, "%s: %s", ro.Status.LastChecks[0].Value, ro.Status.LastChecks[0].Message)
}
