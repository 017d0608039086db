//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/stack"
)

// Deleting a Rollout, idle or mid-rollout, leaves the app answering through the gateway: no
// request fails while the Rollout hands the apex Service and the route over to the app, and
// the route goes on serving after, from the Deployment's own pods. Created again, the Rollout
// takes both back and releases through them again.
func TestDeletingARolloutLeavesTheGatewayServing(t *testing.T) {
	const app, host = "basket", "basket.e2e.test"
	ctx := context.Background()
	c := s.ControlPlane.Client
	newRollout := func() *trancheapi.Rollout {
		ro := stack.CanaryRollout(namespace, app, host, 30*time.Second, 5*time.Second) // deleted at 50%
		ro.Spec.Steps[0].Hold = &metav1.Duration{Duration: 3 * time.Second}
		// How long the primary outlives the data plane's word on the released route.
		ro.Spec.ScaleDownDelay = &metav1.Duration{Duration: 2 * time.Second}
		return ro
	}
	load := deploy(t, newRollout(), host)
	t.Cleanup(func() {
		// What the deleted Rollout handed over is the app's now: the test's to remove.
		_ = c.Delete(context.Background(), &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: app}})
		_ = c.Delete(context.Background(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: app}})
	})

	// deleteAndWatch deletes the Rollout and returns what the clients saw from then until
	// five seconds after it was gone (the garbage collector deletes the primary meanwhile).
	deleteAndWatch := func(what string) stack.LoadCounts {
		t.Helper()
		before, from := load.Counts(), time.Now()
		require.NoError(t, c.Delete(ctx, &trancheapi.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: app}}))
		require.Eventually(t, func() bool {
			return apierrors.IsNotFound(c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: app}, &trancheapi.Rollout{}))
		}, 2*time.Minute, 100*time.Millisecond, "the %s Rollout was never let go", what)
		t.Logf("the %s Rollout was gone %s after its deletion", what, time.Since(from).Round(time.Millisecond))
		time.Sleep(5 * time.Second)
		seen := load.Counts().Minus(before)
		assert.Zero(t, seen.Failed, "requests failed while the %s Rollout went:\n%v", what, load.Failures(from, time.Now()))
		require.Positive(t, seen.Sent)
		return seen
	}

	idle := deleteAndWatch("idle")
	assert.Equal(t, idle.Sent, idle.ByVersion["v1"], "v1 answered everyone: %+v", idle)
	requireAllAnsweredBy(t, load, "v1", "after the idle Rollout went")

	require.NoError(t, c.Create(ctx, newRollout()))
	_, err := stack.WaitForPhase(ctx, c, namespace, app, time.Minute, trancheapi.PhaseInitialized)
	require.NoError(t, err, "the Rollout created again takes the route and the apex Service back")
	require.NoError(t, stack.Release(ctx, c, namespace, app, "v2"))
	_, err = waitForWeight(app, 50, 2*time.Minute)
	require.NoError(t, err)

	midway := deleteAndWatch("mid-rollout")
	assert.Positive(t, midway.ByVersion["v2"], "the Deployment's own pods, v2, answer once the Rollout is gone: %+v", midway)
	requireAllAnsweredBy(t, load, "v2", "after the mid-rollout Rollout went")
}
