package gatewayapi_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/gatewayapi"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// TestWhatTheGatewayClassDoesNotSupportIsNotWritten holds mirror steps and timeouts to the
// features the implementation lists in its GatewayClass's status: without them, nothing is
// written; with them, both work.
func TestWhatTheGatewayClassDoesNotSupportIsNotWritten(t *testing.T) {
	ctx := t.Context()
	ro := newRollout(t)
	class := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "limited-" + ro.Namespace},
		Spec: gatewayv1.GatewayClassSpec{ControllerName: "example.com/limited"}}
	require.NoError(t, cp.Client.Create(ctx, class))
	t.Cleanup(func() { _ = cp.Client.Delete(ctx, class) })
	supports := func(features ...gatewayv1.FeatureName) {
		class.Status.SupportedFeatures = nil
		for _, f := range features {
			class.Status.SupportedFeatures = append(class.Status.SupportedFeatures, gatewayv1.SupportedFeature{Name: f})
		}
		require.NoError(t, cp.Client.Status().Update(ctx, class))
	}
	supports("HTTPRouteResponseHeaderModification", "HTTPRouteQueryParamMatching")
	require.NoError(t, cp.Client.Create(ctx, &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: "edge"},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: gatewayv1.ObjectName(class.Name),
			Listeners: []gatewayv1.Listener{{Name: "web", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}},
	}))
	ro.Spec.Provider.GatewayAPI.ParentRefs = []trancheapi.ParentReference{{Name: "edge"}}
	router := conformance.Start(t, cp.Client, ro, gatewayapi.New)

	err := router.SetRoutes(ctx, ro, traffic.Routes{MirrorPercent: 50})
	require.ErrorIs(t, err, providers.ErrUnsupported)
	assert.ErrorContains(t, err, "Gateway "+ro.Namespace+"/edge is of GatewayClass "+class.Name+
		" (example.com/limited), which does not list HTTPRouteRequestMirror among its supportedFeatures: a mirror step's RequestMirror filter would fail the requests")
	got, err := router.Routes(ctx, ro)
	require.NoError(t, err)
	assert.Equal(t, traffic.Routes{}, got, "nothing written")
	require.NoError(t, router.SetRoutes(ctx, ro, traffic.Routes{CanaryWeight: 5, Sticky: conformance.SampleSticky()}), "a split of core features")

	ro.Spec.Provider.GatewayAPI.Timeouts = &trancheapi.GatewayAPITimeouts{Request: &metav1.Duration{Duration: 5 * time.Second}}
	err = router.Reconcile(ctx, ro)
	require.ErrorIs(t, err, providers.ErrUnsupported)
	assert.ErrorContains(t, err, "HTTPRouteRequestTimeout among its supportedFeatures: spec.provider.gatewayAPI.timeouts.request would not be kept")
	require.NoError(t, router.SetRoutes(ctx, ro, traffic.Routes{}), "routes to the primary are always written")

	supports("HTTPRouteResponseHeaderModification", "HTTPRouteRequestMirror", "HTTPRouteRequestTimeout")
	require.NoError(t, router.Reconcile(ctx, ro))
	require.NoError(t, router.SetRoutes(ctx, ro, traffic.Routes{MirrorPercent: 50}))
	got, err = router.Routes(ctx, ro)
	require.NoError(t, err)
	assert.Equal(t, traffic.Routes{MirrorPercent: 50}, got)

	supports()
	ro.Spec.Provider.GatewayAPI.Timeouts.BackendRequest = &metav1.Duration{Duration: time.Second}
	require.NoError(t, router.Reconcile(ctx, ro), "a class that lists no features says nothing either way")
}

// A gRPC service's GRPCRoute is made only behind a Gateway whose class says it serves
// GRPCRoutes, or says nothing of what it serves.
func TestAGRPCRouteNeedsAGatewayThatServesThem(t *testing.T) {
	ctx := t.Context()
	ro := newGRPCRollout(t)
	class := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "http-only-" + ro.Namespace},
		Spec: gatewayv1.GatewayClassSpec{ControllerName: "example.com/http-only"}}
	require.NoError(t, cp.Client.Create(ctx, class))
	t.Cleanup(func() { _ = cp.Client.Delete(ctx, class) })
	class.Status.SupportedFeatures = []gatewayv1.SupportedFeature{{Name: "HTTPRoute"}}
	require.NoError(t, cp.Client.Status().Update(ctx, class))
	require.NoError(t, cp.Client.Create(ctx, &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: "edge"},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: gatewayv1.ObjectName(class.Name),
			Listeners: []gatewayv1.Listener{{Name: "web", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}},
	}))
	ro.Spec.Provider.GatewayAPI.ParentRefs = []trancheapi.ParentReference{{Name: "edge"}}
	conformance.Create(t, cp.Client, ro)

	err := gatewayapi.New(cp.Client).Reconcile(ctx, ro)
	require.ErrorIs(t, err, providers.ErrUnsupported)
	assert.ErrorContains(t, err, "which does not list GRPCRoute among its supportedFeatures: a GRPC service's GRPCRoute would not be served")

	class.Status.SupportedFeatures = append(class.Status.SupportedFeatures, gatewayv1.SupportedFeature{Name: "GRPCRoute"})
	require.NoError(t, cp.Client.Status().Update(ctx, class))
	require.NoError(t, gatewayapi.New(cp.Client).Reconcile(ctx, ro))
}
