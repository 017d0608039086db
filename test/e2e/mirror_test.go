//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/stack"
)

// mirrorPercent is the share of requests the mirror step copies to the canary.
const mirrorPercent = 50

// deployMirrored deploys the app with a Rollout of the traefik provider (Traefik's Gateway
// provider cannot mirror, see TestAMirrorStepTheGatewayCannotDoIsNeverWritten) whose one step
// mirrors mirrorPercent of the requests to the canary for hold, judged every two seconds,
// before promoting it; an IngressRoute of the user's sends the host's requests to Tranche's
// TraefikService.
func deployMirrored(t *testing.T, app, host string, hold time.Duration) *stack.Load {
	t.Helper()
	ro := stack.CanaryRollout(namespace, app, host, hold, 2*time.Second)
	ro.Spec.Provider = trancheapi.Provider{Traefik: &trancheapi.TraefikProvider{NativeLB: true}}
	ro.Spec.Steps = []trancheapi.Step{{Weight: ptr.To[int32](0), Mirror: ptr.To[int32](mirrorPercent), Hold: &metav1.Duration{Duration: hold}}}
	route := stack.IngressRoute(namespace, app, host, app)
	require.NoError(t, s.ControlPlane.Client.Create(context.Background(), route))
	t.Cleanup(func() { _ = s.ControlPlane.Client.Delete(context.Background(), route) })
	return deploy(t, ro, host)
}

// Through Traefik, a mirror step answers every client from the primary, and copies the
// step's share of the requests to the canary: Traefik's counters of the canary's Service grow
// by about half of the primary's while the step holds. Then the canary is promoted. The next
// release fails every request it gets, which are only mirrored ones, whose answers no client
// sees: the analysis, reading Traefik's counters of the canary's Service, sees them fail and
// rolls it back, while every client is answered by the primary without a failure.
func TestAMirrorStepCopiesRequestsToTheCanaryAndAnswersFromThePrimary(t *testing.T) {
	const app, host = "ledger-mirror", "ledger-mirror.e2e.test"
	ctx := context.Background()
	load := deployMirrored(t, app, host, 8*time.Second)
	require.NoError(t, stack.Release(ctx, s.ControlPlane.Client, namespace, app, "v2"))

	_, err := waitFor(app, time.Minute, func(ro *trancheapi.Rollout) bool {
		return ro.Status.Phase == trancheapi.PhaseProgressing && ro.Status.StepStartedAt != nil
	})
	require.NoError(t, err, "the mirror step never started")
	time.Sleep(time.Second) // Traefik serves by its new configuration a moment after it is written
	clientsBefore := load.Counts()
	planeBefore := stack.ReadServiceCounts(ctx, s.Traefik.MetricsURL(), namespace, app, stack.AppPort)
	time.Sleep(4 * time.Second)
	clients := load.Counts().Minus(clientsBefore)
	plane := stack.ReadServiceCounts(ctx, s.Traefik.MetricsURL(), namespace, app, stack.AppPort)
	require.True(t, planeBefore.Seen && plane.Seen, "Traefik's metrics could not be read")
	during := stack.Between(stack.Sample{Plane: planeBefore}, stack.Sample{Plane: plane})

	require.Positive(t, clients.Sent)
	assert.Zero(t, clients.Failed, "no client failed: %+v; first failures: %v", clients, firstFailures(load))
	assert.Equal(t, clients.Sent, clients.ByVersion["v1"], "the primary answered every client, the canary none: %+v", clients)
	if t.Failed() {
		t.Logf("Traefik's log ends:\n%s", s.Traefik.LogTail())
	}
	require.Positive(t, during.Primary, "Traefik counted no request to the primary")
	mirrored := 100 * during.Canary / during.Primary
	t.Logf("the canary received %.1f%% as many requests as the primary (%.0f of %.0f) with %d%% mirrored", mirrored, during.Canary, during.Primary, mirrorPercent)
	assert.InDelta(t, mirrorPercent, mirrored, 6, "the mirrored share the canary received")

	promoted := waitForEnd(t, app, "", time.Minute)
	require.Equal(t, trancheapi.PhaseSucceeded, promoted.Status.Phase, promoted.Status.Message)
	requireAllAnsweredBy(t, load, "v2", "after the promotion")

	// A bad canary that only mirrored requests reach.
	before := load.Counts()
	require.NoError(t, stack.Release(ctx, s.ControlPlane.Client, namespace, app, "v3", "--error-rate=1"))
	ended := waitForEnd(t, app, promoted.Status.CanaryRevision, time.Minute)
	require.Equal(t, trancheapi.PhaseFailed, ended.Status.Phase, ended.Status.Message)
	assert.Contains(t, ended.Status.Message, "failed analysis runs")
	requireFailedSuccessRate(t, ended, "from the mirrored requests")
	requireAllAnsweredBy(t, load, "v2", "after the rollback")
	clients = load.Counts().Minus(before)
	require.Positive(t, clients.Sent)
	assert.Zero(t, clients.Failed, "no client failed: %+v; first failures: %v", clients, firstFailures(load))
	assert.Equal(t, clients.Sent, clients.ByVersion["v2"], "the primary answered every client: %+v", clients)
}

// firstFailures are the first three failures the clients saw, to tell why.
func firstFailures(load *stack.Load) []stack.Failure {
	failures := load.Failures(time.Time{}, time.Now())
	return failures[:min(3, len(failures))]
}
