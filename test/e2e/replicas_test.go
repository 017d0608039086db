//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
	"github.com/tranche-dev/tranche/test/stack"
)

// TestReplicasFollowGitAndTheAutoscaler changes the app's count the two ways a platform team
// does, in Git (idle, then mid-rollout) and with a HorizontalPodAutoscaler, under load: the
// primary serves at each new count, the rollouts go through, no client sees a failure, and
// Tranche and the real HPA controller never set a count the other then changes.
func TestReplicasFollowGitAndTheAutoscaler(t *testing.T) {
	const app, host = "cart", "cart.e2e.test"
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := s.ControlPlane.Client
	watcher, err := client.NewWithWatch(s.ControlPlane.Config, client.Options{Scheme: s.ControlPlane.Scheme})
	require.NoError(t, err)
	writes, err := harness.WatchReplicaWrites(ctx, watcher, namespace)
	require.NoError(t, err)
	started := time.Now()
	load := deploy(t, stack.CanaryRollout(namespace, app, host, 4*time.Second, 3*time.Second), host)

	// Idle: the count Git now says reaches the primary.
	declareReplicas(t, app, 3)
	waitServing(t, app+trancheapi.PrimarySuffix, 3)

	// Mid-rollout: the count changes while the canary has its first share.
	require.NoError(t, stack.Release(ctx, c, namespace, app, "v2"))
	_, err = waitForStep(app, 5, time.Minute)
	require.NoError(t, err)
	declareReplicas(t, app, 4)
	ro := waitForEnd(t, app, "", 2*time.Minute)
	require.Equal(t, trancheapi.PhaseSucceeded, ro.Status.Phase, ro.Status.Message)
	waitServing(t, app+trancheapi.PrimarySuffix, 4)

	// An autoscaler: the primary gets its copy, which holds it within 2 to 3 replicas through
	// the next rollout.
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: app},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: app},
			MinReplicas:    ptr.To[int32](2),
			MaxReplicas:    3,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](80)},
			}}},
		},
	}
	autoscaled := time.Now()
	require.NoError(t, c.Create(ctx, hpa))
	t.Cleanup(func() { _ = c.Delete(context.Background(), hpa) })
	waitServing(t, app+trancheapi.PrimarySuffix, 3)
	require.NoError(t, stack.Release(ctx, c, namespace, app, "v3"))
	ro = waitForEnd(t, app, ro.Status.CanaryRevision, 2*time.Minute)
	require.Equal(t, trancheapi.PhaseSucceeded, ro.Status.Phase, ro.Status.Message)
	waitServing(t, app+trancheapi.PrimarySuffix, 3)
	assert.Equal(t, app, ro.Status.Target.Autoscaler)

	byTranche, byAutoscalers, fights := writes.Tally("tranche", autoscaled, app, app+trancheapi.PrimarySuffix)
	t.Logf("replica counts set on the autoscaled Deployments: %d by Tranche, %d by the autoscalers", byTranche, byAutoscalers)
	assert.Empty(t, fights, "no count set by one was set back by the other")
	failures := load.Failures(started, time.Now())
	assert.Empty(t, failures, "clients saw failures while the counts changed")
}

// declareReplicas sets the app's count as a GitOps sync of a changed manifest does.
func declareReplicas(t *testing.T, app string, n int32) {
	t.Helper()
	d := &appsv1.Deployment{}
	require.NoError(t, s.ControlPlane.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: app}, d))
	patch := client.MergeFrom(d.DeepCopy())
	d.Spec.Replicas = ptr.To(n)
	require.NoError(t, s.ControlPlane.Client.Patch(context.Background(), d, patch, client.FieldOwner("gitops")))
}

// waitServing waits until a Deployment wants n replicas and has n ready.
func waitServing(t *testing.T, name string, n int32) {
	t.Helper()
	d := &appsv1.Deployment{}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if s.ControlPlane.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, d) == nil &&
			ptr.Deref(d.Spec.Replicas, 1) == n && d.Status.ReadyReplicas == n && d.Status.Replicas == n {
			return
		}
	}
	require.Failf(t, "not serving", "%s at %d ready replicas within 30s; spec %d, ready %d, all %d",
		name, n, ptr.Deref(d.Spec.Replicas, 1), d.Status.ReadyReplicas, d.Status.Replicas)
}
