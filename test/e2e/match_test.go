//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/stack"
)

// testerHeader is what the A/B step matches: the clients that carry it are the testers.
var testerHeader = http.Header{"X-Tester": {"insider"}}

// abRollout sends the requests carrying testerHeader to the canary for one step of hold,
// judged every two seconds, then promotes it.
func abRollout(app, host string, hold time.Duration) *trancheapi.Rollout {
	ro := stack.CanaryRollout(namespace, app, host, hold, 2*time.Second)
	ro.Spec.Steps = []trancheapi.Step{testerStep(hold)}
	return ro
}

// testerStep sends the requests carrying testerHeader to the canary for hold.
func testerStep(hold time.Duration) trancheapi.Step {
	return trancheapi.Step{
		Match: []trancheapi.HTTPMatch{{Headers: []trancheapi.StringMatch{{Name: "X-Tester", Value: "insider"}}}},
		Hold:  &metav1.Duration{Duration: hold},
	}
}

// Through Traefik, an A/B step sends every request that carries the step's header to the
// canary and none of the others, measured by what each group of clients was answered with
// while the step held; then the canary is promoted and answers everyone. The next release
// fails every request: the analysis, reading Traefik's metrics of the canary's Service, sees
// the testers' requests fail and rolls it back, and no client without the header is ever
// answered by it or fails.
func TestAnABStepSendsTheMatchingRequestsAndOnlyThoseToTheCanary(t *testing.T) {
	const app, host = "catalog", "catalog.e2e.test"
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := s.ControlPlane.Client
	others := deploy(t, abRollout(app, host, 8*time.Second), host)
	testers := stack.StartLoadWithHeader(ctx, s.Traefik.WebURL(), host, requestsPerSecond/2, testerHeader)
	require.NoError(t, stack.Release(ctx, c, namespace, app, "v2"))

	// Traefik says it took a route a few milliseconds before it serves by it.
	requireABSplit(t, app, testers, others, time.Second)

	promoted := waitForEnd(t, app, "", time.Minute)
	require.Equal(t, trancheapi.PhaseSucceeded, promoted.Status.Phase, promoted.Status.Message)
	requireAllAnsweredBy(t, others, "v2", "after the promotion")

	// A bad canary, which only the testers meet.
	othersBefore, testersBefore := others.Counts(), testers.Counts()
	require.NoError(t, stack.Release(ctx, c, namespace, app, "v3", "--error-rate=1"))
	ended := waitForEnd(t, app, promoted.Status.CanaryRevision, time.Minute)
	require.Equal(t, trancheapi.PhaseFailed, ended.Status.Phase, ended.Status.Message)
	assert.Contains(t, ended.Status.Message, "failed analysis runs")
	requireFailedSuccessRate(t, ended, "from the testers' requests")
	requireAllAnsweredBy(t, testers, "v2", "after the rollback")

	other, tested := others.Counts().Minus(othersBefore), testers.Counts().Minus(testersBefore)
	require.Positive(t, other.Sent)
	assert.Zero(t, other.Failed, "no client without the header failed: %+v", other)
	assert.Equal(t, other.Sent, other.ByVersion["v2"], "the primary answered every client without the header: %+v", other)
	assert.Positive(t, tested.Failed, "the testers met the bad canary: %+v", tested)
}

// requireABSplit waits for the A/B step of the app's rollout (the canary v2, the primary
// v1), lets the data plane take its routes for settle, and then checks four seconds of it:
// the testers answered by the canary only, the others by the primary only, none failing.
func requireABSplit(t *testing.T, app string, testers, others *stack.Load, settle time.Duration) {
	t.Helper()
	_, err := waitFor(app, time.Minute, func(ro *trancheapi.Rollout) bool {
		return ro.Status.Phase == trancheapi.PhaseProgressing && ro.Status.StepStartedAt != nil
	})
	require.NoError(t, err, "the A/B step never started")
	time.Sleep(settle)
	testersBefore, othersBefore := testers.Counts(), others.Counts()
	time.Sleep(4 * time.Second)
	tested, other := testers.Counts().Minus(testersBefore), others.Counts().Minus(othersBefore)
	during := &trancheapi.Rollout{}
	require.NoError(t, s.ControlPlane.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: app}, during))
	require.Equal(t, trancheapi.PhaseProgressing, during.Status.Phase, "the window must lie within the A/B step: %s", during.Status.Message)

	require.Positive(t, tested.Sent)
	assert.Zero(t, tested.Failed, "testers: %+v", tested)
	assert.Equal(t, tested.Sent, tested.ByVersion["v2"], "every request that matches reaches the canary: %+v", tested)
	require.Positive(t, other.Sent)
	assert.Zero(t, other.Failed, "other clients: %+v", other)
	assert.Equal(t, other.Sent, other.ByVersion["v1"], "no request that does not match reaches the canary: %+v", other)
}

// requireFailedSuccessRate checks that a rollout was judged by a failed run of the success
// rate, at 0: its canary answered every request it got with an error.
func requireFailedSuccessRate(t *testing.T, ro *trancheapi.Rollout, what string) {
	t.Helper()
	for _, check := range ro.Status.LastChecks {
		if check.Metric == "success-rate" && check.Verdict == trancheapi.VerdictFail {
			assert.Equal(t, "0", check.Value, "the canary answered every request it got with an error")
			return
		}
	}
	require.Failf(t, "not judged", "no failed run of the success rate, %s: %+v", what, ro.Status.LastChecks)
}
