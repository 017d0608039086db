package gatewayapi_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/gatewayapi"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// newTCPRollout is newRollout for a TCP service: its route is a TCPRoute, which has no
// hostnames.
func newTCPRollout(t *testing.T) *trancheapi.Rollout {
	ro := newRollout(t)
	ro.Spec.Service.Protocol = trancheapi.ProtocolTCP
	ro.Spec.Provider.GatewayAPI.Hostnames = nil
	return ro
}

func tcpRouteOf(ro *trancheapi.Rollout) *gatewayv1.TCPRoute {
	return &gatewayv1.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: ro.Name}}
}

// A TCP service's TCPRoute passes the suite every provider passes, by weight alone: no A/B
// step, no mirror, no session affinity; a user's own backendRef kept, and the route handed
// over when the Rollout goes.
func TestConformanceTCP(t *testing.T) {
	conformance.Run(t, cp.Client, newTCPRollout, gatewayapi.New, conformance.Capabilities{
		Weights:        []int32{0, 5, 50, 100},
		AnyWeight:      true,
		BuiltinMetrics: true,
		Unconfirmed:    traffic.Pending,
		RoutingObjects: func(ro *trancheapi.Rollout) []client.Object { return []client.Object{tcpRouteOf(ro)} },
		Foreign:        conformance.ForeignEdit{Add: addUserTCPRule, Check: checkUserTCPRule},
		Release: &conformance.ReleaseCheck{
			Objects: func(ro *trancheapi.Rollout) []client.Object { return []client.Object{tcpRouteOf(ro)} },
			SendsTo: func(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) []string {
				route := tcpRouteOf(ro)
				conformance.Get(t, c, route)
				return gatewayapi.TCPServicesRouted(route, ro)
			},
		},
	})
}

// addUserTCPRule adds a backendRef of the user's own to Tranche's rule (a TCPRoute has one
// rule): a replica that takes no connections yet, say.
func addUserTCPRule(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) {
	route := tcpRouteOf(ro)
	conformance.Get(t, c, route)
	require.Len(t, route.Spec.Rules, 1)
	route.Spec.Rules[0].BackendRefs = append(route.Spec.Rules[0].BackendRefs, gatewayv1.BackendRef{
		BackendObjectReference: gatewayv1.BackendObjectReference{Name: "replica", Port: ptr.To[gatewayv1.PortNumber](5432)},
		Weight:                 ptr.To[int32](0),
	})
	require.NoError(t, c.Update(ctx, route))
}

func checkUserTCPRule(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) {
	t.Helper()
	route := tcpRouteOf(ro)
	conformance.Get(t, c, route)
	require.Len(t, route.Spec.Rules, 1)
	assert.True(t, slices.ContainsFunc(route.Spec.Rules[0].BackendRefs, func(ref gatewayv1.BackendRef) bool {
		return ref.Name == "replica" && ptr.Deref(ref.Weight, 1) == 0
	}), "the user's backendRef is gone or changed: %+v", route.Spec.Rules[0].BackendRefs)
}

// The TCPRoute as the API server keeps it, at 5%: one rule of two weighted backendRefs, no
// HTTPRoute beside it.
func TestATCPServiceGetsATCPRoute(t *testing.T) {
	ro := newTCPRollout(t)
	router := conformance.Start(t, cp.Client, ro, gatewayapi.New)
	require.NoError(t, router.SetRoutes(t.Context(), ro, traffic.Routes{CanaryWeight: 5}))

	route := tcpRouteOf(ro)
	conformance.Get(t, cp.Client, route)
	require.Len(t, route.Spec.Rules, 1)
	var weights []string
	for _, ref := range route.Spec.Rules[0].BackendRefs {
		weights = append(weights, fmt.Sprintf("%s=%d", ref.Name, ptr.Deref(ref.Weight, 1)))
	}
	assert.Equal(t, []string{"podinfo-primary=95", "podinfo-canary=5"}, weights)
	err := cp.Client.Get(t.Context(), client.ObjectKeyFromObject(route), routeOf(ro))
	assert.True(t, client.IgnoreNotFound(err) == nil && err != nil, "no HTTPRoute: %v", err)
	assert.ErrorIs(t, router.SetRoutes(t.Context(), ro, traffic.Routes{Match: conformance.SampleMatch()}), providers.ErrUnsupported)
}

// A TCPRoute is made only behind a Gateway with a listener that takes TCPRoutes, when its
// listeners say which kinds they take; a Gateway whose listeners have said nothing yet says
// nothing either way.
func TestATCPRouteNeedsAListenerThatTakesThem(t *testing.T) {
	ctx := t.Context()
	ro := newTCPRollout(t)
	gateway := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: "edge"},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: "any",
			Listeners: []gatewayv1.Listener{{Name: "web", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}},
	}
	require.NoError(t, cp.Client.Create(ctx, gateway))
	takes := func(kinds ...gatewayv1.Kind) {
		gateway.Status.Listeners = []gatewayv1.ListenerStatus{{Name: "web", Conditions: []metav1.Condition{}}}
		for _, k := range kinds {
			gateway.Status.Listeners[0].SupportedKinds = append(gateway.Status.Listeners[0].SupportedKinds, gatewayv1.RouteGroupKind{Kind: k})
		}
		require.NoError(t, cp.Client.Status().Update(ctx, gateway))
	}
	ro.Spec.Provider.GatewayAPI.ParentRefs = []trancheapi.ParentReference{{Name: "edge"}}
	conformance.Create(t, cp.Client, ro)

	require.NoError(t, gatewayapi.New(cp.Client).Reconcile(ctx, ro), "listeners that have said nothing")
	takes("HTTPRoute", "GRPCRoute")
	err := gatewayapi.New(cp.Client).Reconcile(ctx, ro)
	require.ErrorIs(t, err, providers.ErrUnsupported)
	assert.ErrorContains(t, err, "no listener of Gateway "+ro.Namespace+"/edge takes a TCPRoute (they take GRPCRoute, HTTPRoute): give it a TCP listener")
	takes("HTTPRoute", "TCPRoute")
	require.NoError(t, gatewayapi.New(cp.Client).Reconcile(ctx, ro))
}
