package controllers

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// BenchmarkRolloutLatency measures, against the real API server and Prometheus (scraping
// every second), how fast a bad canary is rolled back and how much a good one spends beyond
// its holds, with a 10 s analysis interval. Run it with `make bench`.
func BenchmarkRolloutLatency(b *testing.B) {
	const interval, hold = 10 * time.Second, 10 * time.Second
	rollout := func() *trancheapi.Rollout {
		ro := canaryRollout(cp.Namespace(b))
		ro.Spec.Analysis.Interval = &metav1.Duration{Duration: interval}
		for i := range ro.Spec.Steps {
			ro.Spec.Steps[i].Hold = &metav1.Duration{Duration: hold}
		}
		return ro
	}
	for range b.N {
		// Bad canary: from the first failed request the data plane counted to weight 0.
		bad := startScenario(b, prom, exporter, rollout())
		bad.release(badImage)
		bad.waitForPhase(trancheapi.PhaseFailed, 2*time.Minute)
		firstBad := time.Unix(0, bad.traffic.firstBad.Load())
		rolledBack := bad.weights.firstAfter(0, firstBad)
		if firstBad.Unix() == 0 || rolledBack.IsZero() {
			b.Fatalf("no failed request or no rollback seen; weights %v", bad.weights.list())
		}
		rollback := rolledBack.Sub(firstBad).Seconds()

		// Good canary: from the release to all traffic back on the promoted primary, less the
		// holds the steps ask for.
		good := startScenario(b, prom, exporter, rollout())
		released := time.Now()
		good.release(goodImage2)
		good.waitForPhase(trancheapi.PhaseSucceeded, 3*time.Minute)
		promoted := good.weights.firstAfter(0, released.Add(time.Second))
		holds := time.Duration(len(good.ro.Spec.Steps)) * hold
		overhead := (promoted.Sub(released) - holds).Seconds()

		b.ReportMetric(rollback, "rollback_s")
		b.ReportMetric(overhead, "good_overhead_s")
		fmt.Printf("BENCH rollback_seconds=%.1f good_overhead_seconds=%.1f\n", rollback, overhead)
	}
}
