package controllers

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/gatewayapi"
	"github.com/tranche-dev/tranche/test/harness"
)

// BenchmarkRolloutLatency measures, against the real API server and Prometheus (scraping
// every second), how fast a bad canary is rolled back and how much a good one spends beyond
// its holds, with a 10 s analysis interval, and what each step waits for the data plane's word. Run it with `make bench`.
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
		timing, stopTiming := context.WithCancel(context.Background())
		steps := timeSteps(timing, client.ObjectKeyFromObject(good.ro))
		released := time.Now()
		good.release(goodImage2)
		good.waitForPhase(trancheapi.PhaseSucceeded, 3*time.Minute)
		stopTiming()
		promoted := good.weights.firstAfter(0, released.Add(time.Second))
		holds := time.Duration(len(good.ro.Spec.Steps)) * hold
		overhead := (promoted.Sub(released) - holds).Seconds()

		b.ReportMetric(rollback, "rollback_s")
		b.ReportMetric(overhead, "good_overhead_s")
		fmt.Printf("BENCH rollback_seconds=%.1f good_overhead_seconds=%.1f\n", rollback, overhead)

		// The data plane's word on each split (here the harness's, which plays a Gateway's
		// in milliseconds) and how long after it the step's hold started.
		words, noticing := steps.times()
		if len(noticing) < len(good.ro.Spec.Steps) {
			b.Fatalf("%d holds timed after the data plane's word, want one a step; words waited %v", len(noticing), words)
		}
		wordMedian, wordMax := harness.MedianAndMax(words)
		noticeMedian, noticeMax := harness.MedianAndMax(noticing)
		fmt.Printf("BENCH dataplane_word_seconds_median=%.3f dataplane_word_seconds_max=%.3f hold_after_word_seconds_median=%.3f hold_after_word_seconds_max=%.3f steps=%d\n",
			wordMedian.Seconds(), wordMax.Seconds(), noticeMedian.Seconds(), noticeMax.Seconds(), len(noticing))
	}
}

// BenchmarkWayBack measures each way back to the stable version on the real API server and
// workload controllers: from an abort at 50% to all traffic on the primary, at once and paced
// (through 5%, holding 1 s), from an undo after a promotion to the primary's replicas all
// ready on the earlier template, and from the deletion of a Rollout at 50% to its route
// handed over to the app (sending everything to the apex Service, owned by no one) and to the
// Rollout gone. Run it with `make bench`.
func BenchmarkWayBack(b *testing.B) {
	abortAt50 := func(ro *trancheapi.Rollout) float64 {
		ro.Spec.Steps[1].Hold = &metav1.Duration{Duration: time.Minute} // the abort lands here
		e := startScenario(b, prom, exporter, ro)
		e.release(goodImage2)
		e.waitForWeight(50, time.Minute)
		asked := time.Now()
		e.annotate(trancheapi.AnnotationAbort, "bench")
		e.waitForPhase(trancheapi.PhaseAborted, 10*time.Second)
		e.waitForWeight(0, time.Minute)
		return e.weights.firstAfter(0, asked).Sub(asked).Seconds()
	}
	for range b.N {
		instant := abortAt50(canaryRollout(cp.Namespace(b)))
		paced := canaryRollout(cp.Namespace(b))
		paced.Spec.Rollback = &trancheapi.Rollback{Pace: trancheapi.RollbackSteps, Hold: &metav1.Duration{Duration: time.Second}}
		pacedBack := abortAt50(paced)

		e := startScenario(b, prom, exporter, canaryRollout(cp.Namespace(b)))
		e.release(goodImage2)
		e.waitForPhase(trancheapi.PhaseSucceeded, time.Minute)
		asked := time.Now()
		e.annotate(trancheapi.AnnotationUndo, "bench")
		deadline := time.Now().Add(time.Minute)
		for {
			d := e.deployment("podinfo-primary")
			if d.Spec.Template.Spec.Containers[0].Image == goodImage && d.Status.ObservedGeneration == d.Generation &&
				d.Status.UpdatedReplicas == d.Status.Replicas && d.Status.ReadyReplicas == d.Status.Replicas {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("the primary did not roll back to %s within a minute of the undo", goodImage)
			}
			time.Sleep(20 * time.Millisecond)
		}
		undo := time.Since(asked).Seconds()
		handedOver, gone := deleteAt50(b)

		b.ReportMetric(instant, "abort_instant_s")
		b.ReportMetric(pacedBack, "abort_paced_s")
		b.ReportMetric(undo, "undo_s")
		b.ReportMetric(handedOver, "delete_route_handed_over_s")
		fmt.Printf("BENCH abort_to_primary_instant_seconds=%.2f abort_to_primary_paced_seconds=%.2f undo_to_primary_ready_seconds=%.2f delete_to_route_handed_over_seconds=%.2f delete_to_rollout_gone_seconds=%.2f\n",
			instant, pacedBack, undo, handedOver, gone)
	}
}

// deleteAt50 deletes a Rollout whose canary has 50% and returns the seconds from the deletion
// to its route handed over to the app, and to the Rollout gone.
func deleteAt50(b *testing.B) (handedOver, gone float64) {
	ctx := context.Background()
	e := startScenario(b, prom, exporter, canaryRollout(cp.Namespace(b)))
	e.release(goodImage2)
	e.waitForWeight(50, time.Minute)
	asked := time.Now()
	if err := cp.Client.Delete(ctx, e.ro); err != nil {
		b.Fatal(err)
	}
	for deadline := asked.Add(time.Minute); handedOver == 0 || gone == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("the deleted Rollout did not hand its route over and go within a minute")
		}
		route := &gatewayv1.HTTPRoute{}
		if handedOver == 0 && cp.Client.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "podinfo"}, route) == nil &&
			len(route.OwnerReferences) == 0 && slices.Equal(gatewayapi.ServicesRouted(route, e.ro), []string{"podinfo"}) {
			handedOver = time.Since(asked).Seconds()
		}
		if gone == 0 && apierrors.IsNotFound(cp.Client.Get(ctx, client.ObjectKeyFromObject(e.ro), &trancheapi.Rollout{})) {
			gone = time.Since(asked).Seconds()
		}
	}
	return handedOver, gone
}
