//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/stack"
)

// A Gateway of the test's own stops taking the route mid-rollout (its listener's hostname no
// longer matches the route's, and Traefik says Accepted=False in the route's status): the
// refused split rolls the canary back with Traefik's reason, and since Traefik refuses the
// routes back to the primary too, the Rollout stalls with its words until the Gateway is put
// right, after which the primary serves everything again.
func TestASplitTheDataPlaneRefusesRollsBack(t *testing.T) {
	const app, host = "ledger", "ledger.e2e.test"
	ctx := context.Background()
	c := s.ControlPlane.Client
	gateway := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "ledger-gateway"},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: stack.GatewayClass, Listeners: []gatewayv1.Listener{{
			Name: "web", Port: s.Traefik.WebPort(), Protocol: gatewayv1.HTTPProtocolType, Hostname: ptr.To(gatewayv1.Hostname(host)),
		}}},
	}
	require.NoError(t, c.Create(ctx, gateway))
	t.Cleanup(func() { _ = c.Delete(context.Background(), gateway) })
	ro := stack.CanaryRollout(namespace, app, host, time.Minute, 5*time.Second)
	ro.Spec.Provider.GatewayAPI.ParentRefs = []trancheapi.ParentReference{{Name: gateway.Name}}
	load := deploy(t, ro, host)
	require.NoError(t, stack.Release(ctx, c, namespace, app, "v2"))
	_, err := waitForStep(app, 5, time.Minute)
	require.NoError(t, err)

	setListenerHostname(t, gateway, "elsewhere.e2e.test")
	ended := waitForEnd(t, app, "", time.Minute)
	assert.Equal(t, trancheapi.PhaseFailed, ended.Status.Phase)
	assert.Contains(t, ended.Status.Message, "the data plane refused the split (weight 5%): Gateway e2e/ledger-gateway refused the route: Accepted=False (NoMatchingListenerHostname)")
	stalled, err := waitFor(app, 30*time.Second, func(ro *trancheapi.Rollout) bool {
		c := apimeta.FindStatusCondition(ro.Status.Conditions, trancheapi.ConditionStalled)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == trancheapi.ReasonRoutesRefused
	})
	require.NoError(t, err, "the routes back to the primary are refused too: the Rollout stalls")
	cond := apimeta.FindStatusCondition(stalled.Status.Conditions, trancheapi.ConditionStalled)
	assert.Equal(t, trancheapi.ReasonRoutesRefused, cond.Reason)
	assert.Contains(t, cond.Message, "NoMatchingListenerHostname")
	canary := &appsv1.Deployment{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: app}, canary))
	assert.Positive(t, ptr.Deref(canary.Spec.Replicas, 0), "the canary stays up while the routes back to the primary are refused")

	setListenerHostname(t, gateway, host)
	// What stalls it then is the rollback alone: Stalled with the phase as its reason.
	_, err = waitFor(app, 30*time.Second, func(ro *trancheapi.Rollout) bool {
		c := apimeta.FindStatusCondition(ro.Status.Conditions, trancheapi.ConditionStalled)
		return c != nil && c.Reason == string(trancheapi.PhaseFailed)
	})
	require.NoError(t, err, "the stall on the refused routes ends once Traefik takes the routes back to the primary")
	requireAllAnsweredBy(t, load, "v1", "after the Gateway was put right")
}

// setListenerHostname changes the hostname of the Gateway's one listener.
func setListenerHostname(t *testing.T, gateway *gatewayv1.Gateway, hostname string) {
	t.Helper()
	c := s.ControlPlane.Client
	require.NoError(t, c.Get(context.Background(), client.ObjectKeyFromObject(gateway), gateway))
	before := gateway.DeepCopy()
	gateway.Spec.Listeners[0].Hostname = ptr.To(gatewayv1.Hostname(hostname))
	require.NoError(t, c.Patch(context.Background(), gateway, client.MergeFrom(before)))
}

// With the traefik provider, an IngressRoute that sends the host's requests to a
// TraefikService of the user's, holding only the primary's Service, instead of the one
// Tranche weights, leaves the canary none of them whatever the weights say; Tranche's objects
// read back as written, and Traefik writes no status on them. Traefik counts the requests
// under the primary's Service, as it would through Tranche's TraefikService: the traffic
// check measures the canary's share at 0% in the 5% step and the canary is rolled back.
func TestATrafficCheckCatchesADataPlaneThatIgnoresTheWeights(t *testing.T) {
	const app, host = "billing", "billing.e2e.test"
	ctx := context.Background()
	c := s.ControlPlane.Client
	ro := stack.CanaryRollout(namespace, app, host, time.Minute, 4*time.Second)
	ro.Spec.Provider = trancheapi.Provider{Traefik: &trancheapi.TraefikProvider{NativeLB: true}}
	ro.Spec.Analysis.VerifyTraffic = &trancheapi.VerifyTraffic{}
	stable := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "traefik.io/v1alpha1", "kind": "TraefikService",
		"metadata": map[string]any{"namespace": namespace, "name": app + "-stable"},
		"spec": map[string]any{"weighted": map[string]any{"services": []any{map[string]any{
			"name": app + "-primary", "port": int64(stack.AppPort), "weight": int64(1), "nativeLB": true,
		}}}},
	}}
	route := stack.IngressRoute(namespace, app, host, app+"-stable")
	for _, obj := range []client.Object{stable, route} {
		require.NoError(t, c.Create(ctx, obj))
		t.Cleanup(func() { _ = c.Delete(context.Background(), obj) })
	}
	deploy(t, ro, host)
	require.NoError(t, stack.Release(ctx, c, namespace, app, "v2"))

	ended := waitForEnd(t, app, "", 2*time.Minute)
	require.Equal(t, trancheapi.PhaseFailed, ended.Status.Phase, ended.Status.Message)
	assert.Zero(t, ended.Status.CurrentStep, "rolled back in the first step")
	var caught bool
	for _, check := range ended.Status.LastChecks {
		if check.Metric == "traffic/share" && check.Verdict == trancheapi.VerdictFail {
			caught = true
			assert.Equal(t, "0", check.Value)
			assert.Contains(t, check.Message, "the canary received 0% of the requests")
		}
	}
	assert.True(t, caught, "a failed check of the canary's share: %+v", ended.Status.LastChecks)
}

// Traefik's GatewayClass does not list HTTPRouteRequestMirror among its supportedFeatures
// (Traefik 3.7 answers every request of a rule with a RequestMirror filter with a 500, and
// still says Accepted): a mirror step through gatewayAPI is never written. The Rollout stalls
// with the reason, and the primary answers every client meanwhile.
func TestAMirrorStepTheGatewayCannotDoIsNeverWritten(t *testing.T) {
	const app, host = "audit", "audit.e2e.test"
	ctx := context.Background()
	c := s.ControlPlane.Client
	ro := stack.CanaryRollout(namespace, app, host, 10*time.Second, 5*time.Second)
	ro.Spec.Steps = []trancheapi.Step{
		{Weight: ptr.To[int32](0), Mirror: ptr.To[int32](50), Hold: &metav1.Duration{Duration: 10 * time.Second}},
		{Weight: ptr.To[int32](100)},
	}
	load := deploy(t, ro, host)
	before := load.Counts()
	require.NoError(t, stack.Release(ctx, c, namespace, app, "v2"))

	stalled, err := waitFor(app, time.Minute, func(ro *trancheapi.Rollout) bool {
		return apimeta.IsStatusConditionTrue(ro.Status.Conditions, trancheapi.ConditionStalled)
	})
	require.NoError(t, err, "the mirror step stalls the Rollout")
	cond := apimeta.FindStatusCondition(stalled.Status.Conditions, trancheapi.ConditionStalled)
	assert.Equal(t, trancheapi.ReasonInvalidSpec, cond.Reason)
	assert.Contains(t, cond.Message, "which does not list HTTPRouteRequestMirror among its supportedFeatures")
	time.Sleep(2 * time.Second)
	window := load.Counts().Minus(before)
	require.Positive(t, window.Sent)
	assert.Zero(t, window.Failed, "no client failed: %+v", window)
	assert.Equal(t, window.Sent, window.ByVersion["v1"], "the primary answered every client: %+v", window)

	route := &gatewayv1.HTTPRoute{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: app}, route))
	for _, rule := range route.Spec.Rules {
		for _, f := range rule.Filters {
			assert.NotEqual(t, gatewayv1.HTTPRouteFilterRequestMirror, f.Type, "a RequestMirror filter was written")
		}
	}
}
