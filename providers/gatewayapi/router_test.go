package gatewayapi_test

import (
	"context"
	"flag"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/gatewayapi"
	"github.com/tranche-dev/tranche/providers/traffic"
	"github.com/tranche-dev/tranche/test/harness"
)

var cp *harness.ControlPlane

var update = flag.Bool("update", false, "rewrite the golden files")

func TestMain(m *testing.M) {
	crds := conformance.MustCRDFiles(harness.GatewayAPICRDs())
	os.Exit(harness.Main(m, &cp, harness.Options{CRDDirectories: crds}))
}

// newRollout names the Rollout differently from its target, so that a mix-up of the route's
// name (the Rollout's) and the Services' (the target's) shows.
func newRollout(t *testing.T) *trancheapi.Rollout {
	return conformance.NewRollout(cp.Namespace(t), "frontend", "podinfo", 80, trancheapi.Provider{GatewayAPI: &trancheapi.GatewayAPIProvider{
		ParentRefs: []trancheapi.ParentReference{{Name: "public", Namespace: ptr.To("gateways")}},
		Hostnames:  []string{"podinfo.example.com"},
	}})
}

// routeOf is the Rollout's HTTPRoute, empty, to read.
func routeOf(ro *trancheapi.Rollout) *gatewayv1.HTTPRoute {
	return &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: ro.Name}}
}

func TestConformance(t *testing.T) {
	conformance.Run(t, cp.Client, newRollout, gatewayapi.New, conformance.Capabilities{
		Weights:        []int32{0, 5, 50, 100},
		AnyWeight:      true,
		Match:          true,
		Mirror:         true,
		Sticky:         true,
		BuiltinMetrics: true,
		Unconfirmed:    traffic.Pending,
		RoutingObjects: func(ro *trancheapi.Rollout) []client.Object { return []client.Object{routeOf(ro)} },
		Foreign:        conformance.ForeignEdit{Add: addUserFields, Check: checkUserFields},
		Release:        &conformance.ReleaseCheck{Objects: func(ro *trancheapi.Rollout) []client.Object { return []client.Object{routeOf(ro)} }, SendsTo: routeSendsTo},
	})
}

// routeSendsTo lists the Rollout's Services that the route's rules send to.
func routeSendsTo(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) []string {
	route := routeOf(ro)
	conformance.Get(t, c, route)
	return gatewayapi.ServicesRouted(route, ro)
}

// tranchesRule finds Tranche's rule the way a user reads the route: the one sending to the
// primary Service.
func tranchesRule(t *testing.T, route *gatewayv1.HTTPRoute) *gatewayv1.HTTPRouteRule {
	t.Helper()
	for i, rule := range route.Spec.Rules {
		for _, ref := range rule.BackendRefs {
			// The primary's Service, or the apex Service once the route is released.
			if ref.Name == "podinfo-primary" || ref.Name == "podinfo" {
				return &route.Spec.Rules[i]
			}
		}
	}
	require.FailNow(t, "no rule sends to podinfo-primary or podinfo", "%+v", route.Spec.Rules)
	return nil
}

// addUserFields edits the route as a user would: a rule of their own, and a filter and a
// timeout on Tranche's rule.
func addUserFields(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) {
	route := routeOf(ro)
	conformance.Get(t, c, route)
	rule := tranchesRule(t, route)
	rule.Filters = append(rule.Filters, gatewayv1.HTTPRouteFilter{
		Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier,
		RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{
			Set: []gatewayv1.HTTPHeader{{Name: "X-Served-By", Value: "shop"}},
		},
	})
	rule.Timeouts = &gatewayv1.HTTPRouteTimeouts{Request: ptr.To(gatewayv1.Duration("10s"))}
	route.Spec.Rules = append(route.Spec.Rules, gatewayv1.HTTPRouteRule{
		Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{
			Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: ptr.To("/static"),
		}}},
		BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{Name: "static-files", Port: ptr.To[gatewayv1.PortNumber](8080)},
		}}},
	})
	require.NoError(t, c.Update(ctx, route))
}

func checkUserFields(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) {
	t.Helper()
	route := routeOf(ro)
	conformance.Get(t, c, route)
	rule := tranchesRule(t, route)
	assert.True(t, slices.ContainsFunc(rule.Filters, func(f gatewayv1.HTTPRouteFilter) bool {
		return f.RequestHeaderModifier != nil && len(f.RequestHeaderModifier.Set) == 1 && f.RequestHeaderModifier.Set[0].Value == "shop"
	}), "the user's filter on Tranche's rule is gone: %+v", rule.Filters)
	if assert.NotNil(t, rule.Timeouts, "the user's timeouts on Tranche's rule are gone") {
		assert.Equal(t, ptr.To(gatewayv1.Duration("10s")), rule.Timeouts.Request)
	}
	assert.True(t, slices.ContainsFunc(route.Spec.Rules, func(r gatewayv1.HTTPRouteRule) bool {
		return len(r.BackendRefs) == 1 && r.BackendRefs[0].Name == "static-files"
	}), "the user's rule is gone: %+v", route.Spec.Rules)
}

// start creates a Rollout with its Services, and reconciles it.
func start(t *testing.T) (*trancheapi.Rollout, providers.Router) {
	t.Helper()
	ro := newRollout(t)
	return ro, conformance.Start(t, cp.Client, ro, gatewayapi.New)
}

func getRoute(t *testing.T, ro *trancheapi.Rollout) *gatewayv1.HTTPRoute {
	t.Helper()
	r := routeOf(ro)
	conformance.Get(t, cp.Client, r)
	return r
}

func TestNewRouteShape(t *testing.T) {
	ro, _ := start(t)
	route := getRoute(t, ro)

	require.Len(t, route.OwnerReferences, 1)
	owner := route.OwnerReferences[0]
	assert.Equal(t, ro.UID, owner.UID)
	assert.Equal(t, ptr.To(true), owner.Controller)
	assert.Equal(t, "tranche", route.Labels["app.kubernetes.io/managed-by"])
	assert.Equal(t, "frontend", route.Labels["tranche.dev/rollout"])

	require.Len(t, route.Spec.ParentRefs, 1)
	parent := route.Spec.ParentRefs[0]
	assert.Equal(t, gatewayv1.ObjectName("public"), parent.Name)
	assert.Equal(t, ptr.To(gatewayv1.Namespace("gateways")), parent.Namespace)
	assert.Equal(t, ptr.To(gatewayv1.Kind("Gateway")), parent.Kind)
	assert.Equal(t, []gatewayv1.Hostname{"podinfo.example.com"}, route.Spec.Hostnames)

	require.Len(t, route.Spec.Rules, 1)
	refs := route.Spec.Rules[0].BackendRefs
	require.Len(t, refs, 2)
	for i, want := range []struct {
		name   string
		weight int32
	}{{"podinfo-primary", 100}, {"podinfo-canary", 0}} {
		assert.Equal(t, gatewayv1.ObjectName(want.name), refs[i].Name)
		assert.Equal(t, ptr.To(want.weight), refs[i].Weight)
		assert.Equal(t, ptr.To[gatewayv1.PortNumber](80), refs[i].Port)
	}
}

func TestReconcileFollowsTheSpecAndKeepsTheSplit(t *testing.T) {
	ro, router := start(t)
	ctx := t.Context()
	require.NoError(t, router.SetRoutes(ctx, ro, traffic.Routes{CanaryWeight: 30, MirrorPercent: 20}))

	ro.Spec.Provider.GatewayAPI.ParentRefs = []trancheapi.ParentReference{
		{Name: "internal", SectionName: ptr.To("http")},
		{Name: "podinfo", Kind: ptr.To("Service"), Group: ptr.To(gatewayv1.GroupName)},
	}
	ro.Spec.Provider.GatewayAPI.Hostnames = nil
	ro.Spec.Service.Port = 8080
	require.NoError(t, router.Reconcile(ctx, ro))

	route := getRoute(t, ro)
	assert.Equal(t, []gatewayv1.ParentReference{
		{Group: ptr.To(gatewayv1.Group(gatewayv1.GroupName)), Kind: ptr.To(gatewayv1.Kind("Gateway")), Name: "internal", SectionName: ptr.To(gatewayv1.SectionName("http"))},
		// A Service parent (mesh mode) is in the core group, whatever the API defaulted.
		{Group: ptr.To(gatewayv1.Group("")), Kind: ptr.To(gatewayv1.Kind("Service")), Name: "podinfo"},
	}, route.Spec.ParentRefs)
	assert.Empty(t, route.Spec.Hostnames)
	for _, ref := range route.Spec.Rules[0].BackendRefs {
		assert.Equal(t, ptr.To[gatewayv1.PortNumber](8080), ref.Port)
	}
	assert.Equal(t, ptr.To[gatewayv1.PortNumber](8080), route.Spec.Rules[0].Filters[0].RequestMirror.BackendRef.Port)

	got, err := router.Routes(ctx, ro)
	require.NoError(t, err)
	assert.Equal(t, traffic.Routes{CanaryWeight: 30, MirrorPercent: 20}, got)
}

func TestHandWrittenWeightsAreReadAndKept(t *testing.T) {
	ro, router := start(t)
	ctx := t.Context()
	route := getRoute(t, ro)
	route.Spec.Rules[0].BackendRefs[0].Weight = ptr.To[int32](3)
	route.Spec.Rules[0].BackendRefs[1].Weight = ptr.To[int32](1)
	require.NoError(t, cp.Client.Update(ctx, route))

	got, err := router.Routes(ctx, ro)
	require.NoError(t, err)
	assert.Equal(t, int32(25), got.CanaryWeight)

	require.NoError(t, router.Reconcile(ctx, ro))
	assert.Equal(t, route.ResourceVersion, getRoute(t, ro).ResourceVersion, "Reconcile rewrote weights that already split as they should")

	route = getRoute(t, ro)
	route.Spec.Rules[0].BackendRefs[0].Weight = ptr.To[int32](0)
	route.Spec.Rules[0].BackendRefs[1].Weight = ptr.To[int32](0)
	require.NoError(t, cp.Client.Update(ctx, route))
	_, err = router.Routes(ctx, ro)
	require.ErrorContains(t, err, "no request reaches either")
}

func TestReconcileRestoresTranchesRule(t *testing.T) {
	ro, router := start(t)
	ctx := t.Context()
	route := getRoute(t, ro)
	route.Spec.Rules[0].BackendRefs = route.Spec.Rules[0].BackendRefs[:1] // the user dropped the canary
	require.NoError(t, cp.Client.Update(ctx, route))
	require.NoError(t, router.Reconcile(ctx, ro))
	require.Len(t, getRoute(t, ro).Spec.Rules[0].BackendRefs, 2)

	route = getRoute(t, ro)
	route.Spec.Rules[0].BackendRefs[0].Name = "someone-else" // the user replaced Tranche's rule
	require.NoError(t, cp.Client.Update(ctx, route))
	require.NoError(t, router.Reconcile(ctx, ro))
	route = getRoute(t, ro)
	require.Len(t, route.Spec.Rules, 2, "Tranche's rule is appended, the user's kept")
	assert.Equal(t, gatewayv1.ObjectName("someone-else"), route.Spec.Rules[0].BackendRefs[0].Name)
	got, err := router.Routes(ctx, ro)
	require.NoError(t, err)
	assert.Equal(t, traffic.Routes{}, got)
}

func TestMatchRuleComesFirstAndTreatsRequestsAlike(t *testing.T) {
	ro, router := start(t)
	ctx := t.Context()
	route := getRoute(t, ro)
	route.Spec.Rules[0].Timeouts = &gatewayv1.HTTPRouteTimeouts{Request: ptr.To(gatewayv1.Duration("5s"))}
	require.NoError(t, cp.Client.Update(ctx, route))

	match := []trancheapi.HTTPMatch{{Headers: []trancheapi.StringMatch{{Name: "x-canary", Value: "yes", Type: trancheapi.MatchExact}}}}
	require.NoError(t, router.SetRoutes(ctx, ro, traffic.Routes{Match: match, MirrorPercent: 0}))
	route = getRoute(t, ro)
	require.Len(t, route.Spec.Rules, 2)
	first := route.Spec.Rules[0]
	assert.Equal(t, ptr.To(gatewayv1.SectionName("tranche-canary-match")), first.Name)
	require.Len(t, first.BackendRefs, 1)
	assert.Equal(t, gatewayv1.ObjectName("podinfo-canary"), first.BackendRefs[0].Name)
	assert.Equal(t, ptr.To(gatewayv1.Duration("5s")), first.Timeouts.Request, "matching requests lost the rule's timeout")

	// A user's later edit of Tranche's rule reaches the match rule at the next Reconcile.
	route.Spec.Rules[1].Timeouts.Request = ptr.To(gatewayv1.Duration("7s"))
	require.NoError(t, cp.Client.Update(ctx, route))
	require.NoError(t, router.Reconcile(ctx, ro))
	route = getRoute(t, ro)
	assert.Equal(t, ptr.To(gatewayv1.Duration("7s")), route.Spec.Rules[0].Timeouts.Request)
	got, err := router.Routes(ctx, ro)
	require.NoError(t, err)
	assert.Equal(t, traffic.Routes{Match: match}, got)
}

func TestTwoCookiesAreUnsupported(t *testing.T) {
	ro, router := start(t)
	before := getRoute(t, ro).ResourceVersion
	err := router.SetRoutes(t.Context(), ro, traffic.Routes{Match: []trancheapi.HTTPMatch{{Cookies: []trancheapi.StringMatch{
		{Name: "a", Value: "1", Type: trancheapi.MatchExact}, {Name: "b", Value: "2", Type: trancheapi.MatchExact},
	}}}})
	require.ErrorIs(t, err, providers.ErrUnsupported)
	assert.Equal(t, before, getRoute(t, ro).ResourceVersion)
}

func TestARouteTrancheDidNotCreateIsLeftAlone(t *testing.T) {
	ctx := t.Context()
	ro := newRollout(t)
	require.NoError(t, cp.Client.Create(ctx, ro))
	theirs := &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: ro.Name},
		Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{Name: "podinfo-primary", Port: ptr.To[gatewayv1.PortNumber](80)},
		}}}}}},
	}
	require.NoError(t, cp.Client.Create(ctx, theirs))

	router := gatewayapi.New(cp.Client)
	require.ErrorContains(t, router.Reconcile(ctx, ro), "does not take over a route it did not create")
	require.Error(t, router.SetRoutes(ctx, ro, traffic.Routes{CanaryWeight: 50}))
	_, err := router.Routes(ctx, ro)
	require.ErrorContains(t, err, "not controlled by the Rollout frontend")
	require.NoError(t, providers.HandBack(ctx, router, ro), "a route of someone else's has nothing to hand back")
	assert.Equal(t, theirs.ResourceVersion, getRoute(t, ro).ResourceVersion)
}

func TestWithoutARoute(t *testing.T) {
	ctx := t.Context()
	ro := newRollout(t)
	require.NoError(t, cp.Client.Create(ctx, ro))
	router := gatewayapi.New(cp.Client)
	_, err := router.Routes(ctx, ro)
	assert.True(t, apierrors.IsNotFound(err), "Routes: %v", err)
	err = router.SetRoutes(ctx, ro, traffic.Routes{CanaryWeight: 5})
	assert.True(t, apierrors.IsNotFound(err), "SetRoutes: %v", err)
	assert.NoError(t, providers.HandBack(ctx, router, ro))
}

func TestUnreadableWeightsAreRepairedBySetRoutes(t *testing.T) {
	ro, router := start(t)
	ctx := t.Context()
	route := getRoute(t, ro)
	for i := range route.Spec.Rules[0].BackendRefs {
		route.Spec.Rules[0].BackendRefs[i].Weight = ptr.To[int32](0) // a hand edit that sends nothing anywhere
	}
	require.NoError(t, cp.Client.Update(ctx, route))

	_, err := router.Routes(ctx, ro)
	require.ErrorIs(t, err, providers.ErrUnreadable)
	require.NoError(t, router.SetRoutes(ctx, ro, traffic.Routes{CanaryWeight: 5}))
	got, err := router.Routes(ctx, ro)
	require.NoError(t, err)
	assert.Equal(t, traffic.Routes{CanaryWeight: 5}, got)
}

// TestObjectsWritten shows the HTTPRoute for each kind of step.
func TestObjectsWritten(t *testing.T) {
	ro := newRollout(t)
	conformance.GoldenSteps(t, cp.Client, conformance.Start(t, cp.Client, ro, gatewayapi.New), ro, conformance.Steps[*gatewayv1.HTTPRoute]{
		Object: routeOf(ro), Show: func(r *gatewayv1.HTTPRoute) any { return r.Spec }, Update: *update,
	})
}

// The spec's timeouts go on Tranche's rule, in the format the API server accepts, and from
// there to the canary rules.
func TestTheSpecsTimeoutsAreWritten(t *testing.T) {
	ctx := t.Context()
	ro := newRollout(t)
	ro.Spec.Provider.GatewayAPI.Timeouts = &trancheapi.GatewayAPITimeouts{
		Request:        &metav1.Duration{Duration: 1500 * time.Millisecond},
		BackendRequest: &metav1.Duration{Duration: 500 * time.Millisecond},
	}
	router := conformance.Start(t, cp.Client, ro, gatewayapi.New)
	require.NoError(t, router.SetRoutes(ctx, ro, traffic.Routes{CanaryWeight: 5, Sticky: conformance.SampleSticky()}))
	route := getRoute(t, ro)
	want := &gatewayv1.HTTPRouteTimeouts{Request: ptr.To(gatewayv1.Duration("1s500ms")), BackendRequest: ptr.To(gatewayv1.Duration("500ms"))}
	require.Len(t, route.Spec.Rules, 2, "Tranche's rule and the sticky rule")
	for _, rule := range route.Spec.Rules {
		assert.Equal(t, want, rule.Timeouts)
	}

	ro.Spec.Provider.GatewayAPI.Timeouts.Request.Duration = 30 * time.Second
	require.NoError(t, router.Reconcile(ctx, ro))
	for _, rule := range getRoute(t, ro).Spec.Rules {
		assert.Equal(t, ptr.To(gatewayv1.Duration("30s")), rule.Timeouts.Request)
	}
}
