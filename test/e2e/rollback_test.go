//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/cli"
	"github.com/tranche-dev/tranche/test/harness"
	"github.com/tranche-dev/tranche/test/stack"
)

// A paced abort hands the canary's traffic back in steps, and the primary takes each larger
// share only once it has the ready replicas for it. Here the primary's autoscaler shrank it
// to 2 of its 4 replicas while the canary carried half the load: the abort raises the floor
// of the primary's autoscaler, the real HPA controller scales the primary up, and the share
// the data plane gives the primary never runs ahead of the replicas ready to carry it. No
// client sees a failure, and the autoscaler does not scale the aborted canary up again.
func TestAPacedAbortWaitsForThePrimarysReplicas(t *testing.T) {
	const app, host = "escrow", "escrow.e2e.test"
	const full = 4 // the primary's replicas when the rollout begins
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := s.ControlPlane.Client
	primaryName := app + trancheapi.PrimarySuffix
	watcher, err := client.NewWithWatch(s.ControlPlane.Config, client.Options{Scheme: s.ControlPlane.Scheme})
	require.NoError(t, err)
	writes, err := harness.WatchReplicaWrites(ctx, watcher, namespace)
	require.NoError(t, err)

	ro := stack.CanaryRollout(namespace, app, host, 30*time.Second, 3*time.Second) // the abort lands at 50%
	ro.Spec.Steps[0].Hold = &metav1.Duration{Duration: 3 * time.Second}
	ro.Spec.Rollback = &trancheapi.Rollback{Pace: trancheapi.RollbackSteps, Hold: &metav1.Duration{Duration: 3 * time.Second}}
	ro.Spec.ScaleDownDelay = &metav1.Duration{Duration: 2 * time.Second}
	load := deploy(t, ro, host)
	declareReplicas(t, app, full)
	waitServing(t, primaryName, full)
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: app},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: app},
			MinReplicas:    ptr.To[int32](2),
			MaxReplicas:    full,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](80)},
			}}},
		},
	}
	require.NoError(t, c.Create(ctx, hpa))
	t.Cleanup(func() { _ = c.Delete(context.Background(), hpa) })
	waitServing(t, primaryName, full)

	require.NoError(t, stack.Release(ctx, c, namespace, app, "v2"))
	_, err = waitForStep(app, 50, 2*time.Minute)
	require.NoError(t, err)
	// With no CPU metrics the autoscaler keeps any count within its bounds: the test plays
	// its scale-down, half the load having gone to the canary.
	primary := &appsv1.Deployment{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: primaryName}, primary))
	patch := client.MergeFrom(primary.DeepCopy())
	primary.Spec.Replicas = ptr.To[int32](2)
	require.NoError(t, c.Patch(ctx, primary, patch, client.FieldOwner("autoscaler-stand-in")))
	waitServing(t, primaryName, 2)

	ready := watchReadyReplicas(ctx, t, primaryName)
	var aborted time.Time // when the abort is asked for: the recording begins a moment before
	abort := func(ctx context.Context) error {
		aborted = time.Now()
		_, err := cli.Abort(ctx, c, types.NamespacedName{Namespace: namespace, Name: app}) // kubectl tranche abort
		return err
	}
	samples, ro := recordUntil(t, app, &stack.Recorder{Load: load, MetricsURL: s.Traefik.MetricsURL()}, abort, func(*trancheapi.Rollout) *trancheapi.Rollout {
		ro, err := waitFor(app, 2*time.Minute, func(ro *trancheapi.Rollout) bool {
			return ro.Status.Phase == trancheapi.PhaseAborted && ro.Status.CanaryWeight == 0
		})
		require.NoError(t, err, "the traffic never all went back to the primary")
		return ro
	})
	require.Equal(t, trancheapi.PhaseAborted, ro.Status.Phase, ro.Status.Message)
	onPrimary := time.Since(aborted)

	// The way back as the status and the data plane said it: 50, then 5, then nothing.
	assert.Equal(t, []int32{50, 5, 0}, weightsOf(samples[1:]), "the canary's weights from the abort on")
	checked := 0
	for i := 1; i < len(samples); i++ {
		w := stack.Between(samples[i-1], samples[i])
		if w.Primary+w.Canary < 20 || w.From.At.Before(aborted) {
			continue // too few requests to judge, or before the way back began
		}
		carried := 100 * float64(ready.at(w.To.At)) / full
		share := 100 - w.CanaryShare()
		assert.LessOrEqualf(t, share, carried+10, "from %s: the primary took %.0f%% of the requests with %.0f%% of its replicas ready",
			w.From.At.Sub(aborted).Round(time.Millisecond), share, carried)
		checked++
	}
	assert.Greater(t, checked, 10, "windows of the way back with requests to judge")
	assert.Equal(t, int32(full), ready.most(), "the primary's autoscaler scaled it back up for the whole load")
	whole := stack.Between(samples[0], samples[len(samples)-1]).Clients
	assert.Zero(t, whole.Failed, "clients saw failures on the way back:\n%s", stack.FailuresDuring(load, samples))
	requireAllAnsweredBy(t, load, "v1", "after the paced abort")
	fmt.Printf("BENCH e2e_paced_abort_seconds=%.1f\n", onPrimary.Seconds())

	// The aborted canary goes to zero and stays there: its autoscaler does not bring it back.
	waitServing(t, app, 0)
	time.Sleep(3 * time.Second)
	waitServing(t, app, 0)
	_, _, fights := writes.Tally("tranche", aborted, app, primaryName)
	assert.Empty(t, fights, "no count set by Tranche was set back by an autoscaler, or the other way")
	copyHPA := &autoscalingv2.HorizontalPodAutoscaler{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: primaryName}, copyHPA))
	assert.Equal(t, int32(2), ptr.Deref(copyHPA.Spec.MinReplicas, 0), "the primary's autoscaler has the user's floor again")
}

// readyTimeline is what a Deployment's ready replicas were, polled every 50 ms.
type readyTimeline struct {
	mu     sync.Mutex
	points []readyPoint
}

type readyPoint struct {
	at    time.Time
	ready int32
}

// watchReadyReplicas polls the Deployment's ready replicas until ctx ends.
func watchReadyReplicas(ctx context.Context, t *testing.T, name string) *readyTimeline {
	t.Helper()
	tl := &readyTimeline{}
	go func() {
		d := &appsv1.Deployment{}
		for ctx.Err() == nil {
			if s.ControlPlane.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, d) == nil {
				tl.mu.Lock()
				tl.points = append(tl.points, readyPoint{time.Now(), d.Status.ReadyReplicas})
				tl.mu.Unlock()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	require.Eventually(t, func() bool { tl.mu.Lock(); defer tl.mu.Unlock(); return len(tl.points) > 0 }, 5*time.Second, 10*time.Millisecond)
	return tl
}

// at is the count last polled at or before t. The data plane takes a split a moment after
// Tranche sees the replicas ready and sets it, so a share is held to the count of its end.
func (tl *readyTimeline) at(t time.Time) int32 {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var ready int32
	for _, p := range tl.points {
		if p.at.After(t) {
			break
		}
		ready = p.ready
	}
	return ready
}

// most is the most ready replicas seen.
func (tl *readyTimeline) most() int32 {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var most int32
	for _, p := range tl.points {
		most = max(most, p.ready)
	}
	return most
}

// An undo after a promotion puts the earlier version back on all traffic at once, through
// the primary's own rolling update: no step, no analysis, no failed request. The time from
// the request to the last answer by the undone version is printed.
func TestAnUndoAfterAPromotionPutsTheEarlierVersionBack(t *testing.T) {
	const app, host = "invoice", "invoice.e2e.test"
	ctx := context.Background()
	c := s.ControlPlane.Client
	load := deploy(t, stack.CanaryRollout(namespace, app, host, 3*time.Second, 3*time.Second), host)
	_, ro := release(t, app, load, "v2")
	require.Equal(t, trancheapi.PhaseSucceeded, ro.Status.Phase, ro.Status.Message)
	requireAllAnsweredBy(t, load, "v2", "after the promotion")

	before, asked := load.Counts(), time.Now()
	out, err := cli.Undo(ctx, c, types.NamespacedName{Namespace: namespace, Name: app}) // kubectl tranche undo
	require.NoError(t, err)
	t.Log(out)
	requireAllAnsweredBy(t, load, "v1", "after the undo")
	last := load.LastAnswerBy("v2")
	require.True(t, last.After(asked), "v2 answered after the request (a rolling update, not a cut)")
	seen := load.Counts().Minus(before)
	assert.Zero(t, seen.Failed, "requests failed during the undo:\n%v", load.Failures(asked, time.Now()))
	ro, err = stack.WaitForPhase(ctx, c, namespace, app, 10*time.Second, trancheapi.PhaseAborted)
	require.NoError(t, err)
	assert.Contains(t, ro.Status.Message, "Undone revision")
	fmt.Printf("BENCH e2e_undo_to_last_undone_answer_seconds=%.2f\n", last.Sub(asked).Seconds())
}
