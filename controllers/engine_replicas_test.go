package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
)

// These scenarios run with the real HorizontalPodAutoscaler controller, which looks at each
// autoscaler every second. Without a metrics source it only holds the replicas within
// minReplicas and maxReplicas, which is enough to see who sets a count.

func TestPrimaryFollowsItsAutoscaler(t *testing.T) {
	t.Parallel()
	ns := cp.Namespace(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	writes, err := harness.WatchReplicaWrites(ctx, watcher, ns)
	require.NoError(t, err)
	require.NoError(t, cp.Client.Create(context.Background(), autoscaler(ns, "podinfo", 2, 4)))
	e := startScenario(t, prom, exporter, canaryRollout(ns))

	// The primary has a copy of the user's autoscaler, and its autoscaler set its count.
	primaryHPA := e.waitForPrimaryAutoscaler(func(h *autoscalingv2.HorizontalPodAutoscaler) bool { return *h.Spec.MinReplicas == 2 })
	assert.Equal(t, autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "podinfo-primary"}, primaryHPA.Spec.ScaleTargetRef)
	assert.Equal(t, int32(4), primaryHPA.Spec.MaxReplicas)
	assert.True(t, metav1.IsControlledBy(primaryHPA, e.get()), "the copy goes with the Rollout")
	e.waitForReplicas("podinfo-primary", 2)
	// The idle target is scaled to zero, where its autoscaler leaves it.
	e.waitForReplicas("podinfo", 0)

	// The user raises the floor: the copy follows, and the primary's autoscaler scales it.
	e.setMinReplicas("podinfo", 3)
	e.waitForPrimaryAutoscaler(func(h *autoscalingv2.HorizontalPodAutoscaler) bool { return *h.Spec.MinReplicas == 3 })
	e.waitForReplicas("podinfo-primary", 3)
	// A GitOps sync writes the count the manifest still has: the autoscalers', not Git's, is
	// what counts, and the target goes back to zero.
	e.declareReplicas(1)
	e.waitForReplicas("podinfo", 0)
	assert.Equal(t, int32(3), ptr.Deref(e.deployment("podinfo-primary").Spec.Replicas, 0), "the primary keeps its autoscaler's count")

	e.release(goodImage2)
	e.waitForWeight(50, time.Minute)
	assert.Equal(t, int32(3), ptr.Deref(e.deployment("podinfo").Spec.Replicas, 0), "the canary runs at the primary's count, within its autoscaler's bounds")
	ro := e.waitForPhase(trancheapi.PhaseSucceeded, time.Minute)
	e.assertPrimaryOnly(goodImage2)
	assert.Equal(t, int32(3), ptr.Deref(e.deployment("podinfo-primary").Spec.Replicas, 0))
	assert.Equal(t, "podinfo", ro.Status.Target.Autoscaler)
	assert.Zero(t, ro.Status.Target.DeclaredReplicas, "an autoscaled target declares no count")

	// Without the user's autoscaler the primary has none either.
	require.NoError(t, cp.Client.Delete(context.Background(), autoscaler(ns, "podinfo", 0, 0)))
	require.Eventually(t, func() bool {
		err := cp.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "podinfo-primary"}, &autoscalingv2.HorizontalPodAutoscaler{})
		return apierrors.IsNotFound(err)
	}, 10*time.Second, 50*time.Millisecond, "the primary's autoscaler is deleted with the user's")

	tranche, autoscalers, fights := writes.Tally(FieldManager, time.Time{}, "podinfo", "podinfo-primary")
	t.Logf("replica counts set: %d by Tranche, %d by the autoscalers", tranche, autoscalers)
	assert.Positive(t, autoscalers, "the autoscalers set counts (the watch sees who writes)")
	assert.Empty(t, fights, "no count set by one was reset by the other")
}

func TestPrimaryFollowsTheReplicasDeclaredInGit(t *testing.T) {
	t.Parallel()
	ro := canaryRollout(cp.Namespace(t))
	ro.Spec.Steps[0].Hold = &metav1.Duration{Duration: 20 * time.Second} // the edit mid-rollout lands here
	e := startScenario(t, prom, exporter, ro)
	e.waitForReplicas("podinfo", 0)
	assert.Equal(t, int32(1), e.get().Status.Target.DeclaredReplicas, "the count the target was created with")

	// Idle: the owner's new count lands on the scaled-down target; the primary takes it, and
	// the target goes back to zero.
	e.declareReplicas(3)
	e.waitForReplicas("podinfo-primary", 3)
	e.waitForReplicas("podinfo", 0)
	assert.Equal(t, int32(3), e.get().Status.Target.DeclaredReplicas)

	// Mid-rollout: the canary has the new count at once, the primary takes it too.
	e.release(goodImage2)
	e.waitForWeight(5, time.Minute)
	e.declareReplicas(4)
	e.waitForReplicas("podinfo-primary", 4)
	assert.Equal(t, int32(4), ptr.Deref(e.deployment("podinfo").Spec.Replicas, 0))
	got := e.waitForPhase(trancheapi.PhaseSucceeded, time.Minute)
	e.assertPrimaryOnly(goodImage2)
	assert.Equal(t, int32(4), ptr.Deref(e.deployment("podinfo-primary").Spec.Replicas, 0))
	assert.Equal(t, int32(4), got.Status.Target.DeclaredReplicas, "Tranche's own scale-down is not taken for the owner's")
	assert.Equal(t, got.Status.CanaryRevision, got.Status.Target.Revision)
	// Tranche's own scale-down made a new generation of the target, which says so: the
	// status about the generation before is about this one, with no write to say it.
	require.Eventually(t, func() bool {
		return ptr.Deref(e.deployment("podinfo").Spec.Replicas, 1) == 0
	}, 10*time.Second, 50*time.Millisecond, "the canary is scaled down")
	target, st := e.deployment("podinfo"), e.get().Status.Target
	assert.Less(t, st.Generation, target.Generation, "Tranche scaled the target after the status was written")
	assert.True(t, st.Covers(target.Generation, target.Annotations), "status %+v is about the target at generation %d (%v)", st, target.Generation, target.Annotations)
}

func autoscaler(ns, target string, minReplicas, maxReplicas int32) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: target},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: target},
			MinReplicas:    ptr.To(minReplicas),
			MaxReplicas:    maxReplicas,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](80)},
			}}},
		},
	}
}

func (e *engineEnv) waitForPrimaryAutoscaler(ok func(*autoscalingv2.HorizontalPodAutoscaler) bool) *autoscalingv2.HorizontalPodAutoscaler {
	e.t.Helper()
	hpa := &autoscalingv2.HorizontalPodAutoscaler{}
	key := types.NamespacedName{Namespace: e.ns, Name: e.ro.PrimaryName()}
	require.Eventually(e.t, func() bool {
		return cp.Client.Get(context.Background(), key, hpa) == nil && ok(hpa)
	}, 10*time.Second, 50*time.Millisecond, "the primary's autoscaler; last seen %+v", hpa.Spec)
	return hpa
}

func (e *engineEnv) setMinReplicas(name string, n int32) {
	e.t.Helper()
	hpa := &autoscalingv2.HorizontalPodAutoscaler{}
	require.NoError(e.t, cp.Client.Get(context.Background(), types.NamespacedName{Namespace: e.ns, Name: name}, hpa))
	patch := client.MergeFrom(hpa.DeepCopy())
	hpa.Spec.MinReplicas = ptr.To(n)
	require.NoError(e.t, cp.Client.Patch(context.Background(), hpa, patch))
}

// declareReplicas sets the target's count as a GitOps tool syncing a changed manifest does:
// a patch of spec.replicas alone, under its own field manager.
func (e *engineEnv) declareReplicas(n int32) {
	e.t.Helper()
	d := e.deployment(e.ro.Spec.TargetRef.Name)
	patch := client.MergeFrom(d.DeepCopy())
	d.Spec.Replicas = ptr.To(n)
	require.NoError(e.t, cp.Client.Patch(context.Background(), d, patch, client.FieldOwner("gitops")))
}

func (e *engineEnv) waitForReplicas(name string, n int32) {
	e.t.Helper()
	var last int32
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if last = ptr.Deref(e.deployment(name).Spec.Replicas, 1); last == n {
			return
		}
	}
	require.Failf(e.t, "replicas not reached", "%s at %d replicas within 20s; last %d", name, n, last)
}

// Before a step gives the canary a larger share, it has the ready replicas for it. Its
// autoscaler (played here: with no metrics the real one keeps any count within its bounds)
// shrank it to 1 of 4 at 5%: the 50% step scales it back to the 2 that share needs, within the
// autoscaler's bounds, and gives it the share only once they are ready.
func TestAStepWaitsForTheCanarysReplicas(t *testing.T) {
	t.Parallel()
	ns := cp.Namespace(t)
	require.NoError(t, cp.Client.Create(context.Background(), autoscaler(ns, "podinfo", 4, 4)))
	ro := canaryRollout(ns)
	ro.Spec.Steps[0].Hold = &metav1.Duration{Duration: 10 * time.Second} // the shrink lands here
	e := startScenario(t, prom, exporter, ro)
	e.waitForReplicas("podinfo-primary", 4)
	e.setMinReplicas("podinfo", 1) // the primary keeps its 4; the autoscaler may now go to 1

	e.release(goodImage2)
	e.waitForWeight(5, time.Minute)
	e.declareReplicas(1) // the autoscaler's scale-down, at 5% of the load
	e.waitForReplicas("podinfo", 1)

	var sawWait bool
	require.Eventually(t, func() bool {
		ro := e.get()
		sawWait = sawWait || strings.Contains(ro.Status.Message, "waits for the canary's replicas: 50% of traffic needs 2 ready")
		w, ok := harness.RoutedCanaryWeight(context.Background(), cp.Client, ns, ro.Name)
		return ok && w == 50
	}, time.Minute, 20*time.Millisecond, "the 50% step never came")
	target := e.deployment("podinfo")
	assert.GreaterOrEqual(t, target.Status.ReadyReplicas, int32(2), "the canary had the replicas for 50% when it got it")
	assert.Equal(t, int32(2), ptr.Deref(target.Spec.Replicas, 0), "scaled to what 50% needs, within the autoscaler's bounds")
	assert.True(t, sawWait, "the step said what it waited for")
}
