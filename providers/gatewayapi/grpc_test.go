package gatewayapi_test

import (
	"context"
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

// newGRPCRollout is newRollout for a gRPC service: its route is a GRPCRoute.
func newGRPCRollout(t *testing.T) *trancheapi.Rollout {
	ro := newRollout(t)
	ro.Spec.Service.Protocol = trancheapi.ProtocolGRPC
	return ro
}

func grpcRouteOf(ro *trancheapi.Rollout) *gatewayv1.GRPCRoute {
	return &gatewayv1.GRPCRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: ro.Name}}
}

// A gRPC service's GRPCRoute passes the suite every provider passes: weights, A/B steps on
// metadata (headers) and nothing else, no mirror and no session affinity, a user's edits
// kept, and the route handed over when the Rollout goes.
func TestConformanceGRPC(t *testing.T) {
	headersOnly := []trancheapi.HTTPMatch{
		{Headers: []trancheapi.StringMatch{{Name: "X-Canary", Value: "always", Type: trancheapi.MatchExact}}},
		{Headers: []trancheapi.StringMatch{{Name: "tenant", Value: "team-a.", Type: trancheapi.MatchPrefix}}},
		{GRPCMethod: &trancheapi.GRPCMethodMatch{Service: "grpc.testing.TestService", Method: "EmptyCall"}},
		{Headers: []trancheapi.StringMatch{{Name: "tenant", Value: "b", Type: trancheapi.MatchExact}}, GRPCMethod: &trancheapi.GRPCMethodMatch{Method: "UnaryCall"}},
	}
	conformance.Run(t, cp.Client, newGRPCRollout, gatewayapi.New, conformance.Capabilities{
		Weights:        []int32{0, 5, 50, 100},
		AnyWeight:      true,
		Match:          true,
		SupportedMatch: headersOnly,
		BuiltinMetrics: true,
		Unconfirmed:    traffic.Pending,
		RoutingObjects: func(ro *trancheapi.Rollout) []client.Object { return []client.Object{grpcRouteOf(ro)} },
		Foreign:        conformance.ForeignEdit{Add: addUserGRPCFields, Check: checkUserGRPCFields},
		Release: &conformance.ReleaseCheck{
			Objects: func(ro *trancheapi.Rollout) []client.Object { return []client.Object{grpcRouteOf(ro)} },
			SendsTo: func(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) []string {
				route := grpcRouteOf(ro)
				conformance.Get(t, c, route)
				return gatewayapi.GRPCServicesRouted(route, ro)
			},
		},
	})
}

// addUserGRPCFields edits the GRPCRoute as a user would: a rule of their own for one
// method, and a filter on Tranche's rule.
func addUserGRPCFields(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) {
	route := grpcRouteOf(ro)
	conformance.Get(t, c, route)
	rule := tranchesGRPCRule(t, route)
	rule.Filters = append(rule.Filters, gatewayv1.GRPCRouteFilter{
		Type:                  gatewayv1.GRPCRouteFilterRequestHeaderModifier,
		RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{Set: []gatewayv1.HTTPHeader{{Name: "X-Served-By", Value: "shop"}}},
	})
	route.Spec.Rules = append(route.Spec.Rules, gatewayv1.GRPCRouteRule{
		Matches: []gatewayv1.GRPCRouteMatch{{Method: &gatewayv1.GRPCMethodMatch{Service: ptr.To("grpc.health.v1.Health"), Method: ptr.To("Check")}}},
		BackendRefs: []gatewayv1.GRPCBackendRef{{BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{Name: "health", Port: ptr.To[gatewayv1.PortNumber](8080)},
		}}},
	})
	require.NoError(t, c.Update(ctx, route))
}

func checkUserGRPCFields(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) {
	t.Helper()
	route := grpcRouteOf(ro)
	conformance.Get(t, c, route)
	rule := tranchesGRPCRule(t, route)
	assert.True(t, slices.ContainsFunc(rule.Filters, func(f gatewayv1.GRPCRouteFilter) bool {
		return f.RequestHeaderModifier != nil && len(f.RequestHeaderModifier.Set) == 1 && f.RequestHeaderModifier.Set[0].Value == "shop"
	}), "the user's filter on Tranche's rule is gone: %+v", rule.Filters)
	assert.True(t, slices.ContainsFunc(route.Spec.Rules, func(r gatewayv1.GRPCRouteRule) bool {
		return len(r.BackendRefs) == 1 && r.BackendRefs[0].Name == "health" && len(r.Matches) == 1 &&
			r.Matches[0].Method != nil && ptr.Deref(r.Matches[0].Method.Method, "") == "Check"
	}), "the user's rule for one method is gone or changed: %+v", route.Spec.Rules)
}

func tranchesGRPCRule(t *testing.T, route *gatewayv1.GRPCRoute) *gatewayv1.GRPCRouteRule {
	t.Helper()
	for i, rule := range route.Spec.Rules {
		for _, ref := range rule.BackendRefs {
			if ref.Name == "podinfo-primary" || ref.Name == "podinfo" {
				return &route.Spec.Rules[i]
			}
		}
	}
	require.FailNow(t, "no rule sends to podinfo-primary or podinfo", "%+v", route.Spec.Rules)
	return nil
}

// The GRPCRoute at an A/B step, as the API server keeps it: Tranche's rule split by weight,
// and the match rule sending the calls with the header, and those of one method, to the
// canary, as GRPCRoute matches on metadata and on the method; no HTTPRoute is made.
func TestAGRPCServiceGetsAGRPCRoute(t *testing.T) {
	ro := newGRPCRollout(t)
	router := conformance.Start(t, cp.Client, ro, gatewayapi.New)
	ctx := t.Context()
	match := []trancheapi.HTTPMatch{
		{Headers: []trancheapi.StringMatch{{Name: "x-canary", Value: "always", Type: trancheapi.MatchExact}}},
		{GRPCMethod: &trancheapi.GRPCMethodMatch{Service: "grpc.testing.TestService", Method: "EmptyCall"}},
	}
	require.NoError(t, router.SetRoutes(ctx, ro, traffic.Routes{CanaryWeight: 5, Match: match}))

	route := grpcRouteOf(ro)
	conformance.Get(t, cp.Client, route)
	require.Len(t, route.Spec.Rules, 2)
	canary, main := route.Spec.Rules[0], route.Spec.Rules[1]
	assert.Equal(t, ptr.To(gatewayv1.SectionName("tranche-canary-match")), canary.Name)
	require.Len(t, canary.Matches, 2)
	assert.Nil(t, canary.Matches[0].Method)
	assert.Equal(t, []gatewayv1.GRPCHeaderMatch{{Type: ptr.To(gatewayv1.GRPCHeaderMatchExact), Name: "x-canary", Value: "always"}}, canary.Matches[0].Headers)
	assert.Equal(t, &gatewayv1.GRPCMethodMatch{Type: ptr.To(gatewayv1.GRPCMethodMatchExact), Service: ptr.To("grpc.testing.TestService"), Method: ptr.To("EmptyCall")},
		canary.Matches[1].Method)
	assert.Empty(t, canary.Matches[1].Headers)
	require.Len(t, canary.BackendRefs, 1)
	assert.Equal(t, gatewayv1.ObjectName("podinfo-canary"), canary.BackendRefs[0].Name)
	var weights []int32
	for _, ref := range main.BackendRefs {
		weights = append(weights, ptr.Deref(ref.Weight, 1))
	}
	assert.Equal(t, []int32{95, 5}, weights)

	got, err := router.Routes(ctx, ro)
	require.NoError(t, err)
	assert.Equal(t, traffic.Routes{CanaryWeight: 5, Match: match}, got)

	err = cp.Client.Get(ctx, client.ObjectKeyFromObject(route), routeOf(ro))
	assert.True(t, client.IgnoreNotFound(err) == nil && err != nil, "no HTTPRoute: %v", err)
	err = router.SetRoutes(ctx, ro, traffic.Routes{CanaryWeight: 5, MirrorPercent: 10})
	assert.ErrorIs(t, err, providers.ErrUnsupported, "a GRPCRoute mirror is refused, not written")
}
