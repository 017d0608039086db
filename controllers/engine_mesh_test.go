package controllers

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// meshRollout is canaryRollout through a mesh, judged by that provider's built-in success
// rate: its query over the mesh's own metric names, as the real Prometheus scraped them from
// the traffic the test generates (counted as the mesh's proxies count it).
func meshRollout(ns string, provider trancheapi.Provider) *trancheapi.Rollout {
	ro := canaryRollout(ns)
	ro.Spec.Provider = provider
	// The built-in query's window is the analysis interval: five scrapes, never one.
	ro.Spec.Analysis.Interval = &metav1.Duration{Duration: 5 * time.Second}
	ro.Spec.Analysis.Metrics = []trancheapi.Metric{{Name: "success-rate", Builtin: trancheapi.BuiltinRequestSuccessRate, Min: ptr.To(95.0)}}
	return ro
}

var meshes = map[string]trancheapi.Provider{
	"linkerd": {Linkerd: &trancheapi.LinkerdProvider{}},
	"istio":   {Istio: &trancheapi.IstioProvider{}},
}

func TestMeshGoodCanaryIsPromoted(t *testing.T) {
	t.Parallel()
	for name, provider := range meshes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := startScenario(t, prom, exporter, meshRollout(cp.Namespace(t), provider))
			e.release(goodImage2)

			ro := e.waitForPhase(trancheapi.PhaseSucceeded, 2*time.Minute)
			assert.Equal(t, []int32{0, 5, 50, 100, 0}, e.weights.list(), "the canary took 5%, 50% then 100%, then the primary took all back")
			e.assertPrimaryOnly(goodImage2)
			for _, c := range ro.Status.LastChecks {
				assert.Equal(t, trancheapi.VerdictPass, c.Verdict, "%s = %s: %s", c.Metric, c.Value, c.Message)
			}
		})
	}
}

func TestMeshBadCanaryIsRolledBackAtFivePercent(t *testing.T) {
	t.Parallel()
	for name, provider := range meshes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := startScenario(t, prom, exporter, meshRollout(cp.Namespace(t), provider))
			e.release(badImage)

			ro := e.waitForPhase(trancheapi.PhaseFailed, 2*time.Minute)
			e.waitForWeight(0, 10*time.Second)
			assert.Equal(t, []int32{0, 5, 0}, e.weights.list(), "rolled back at the first step")
			e.assertPrimaryOnly(goodImage)
			last := ro.Status.LastChecks[0]
			assert.Equal(t, trancheapi.VerdictFail, last.Verdict, "%s: %s", last.Value, last.Message)
			assert.Contains(t, ro.Status.Message, "2 failed analysis runs")
		})
	}
}
