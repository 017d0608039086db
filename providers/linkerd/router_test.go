package linkerd_test

import (
	"context"
	"flag"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/gatewayapi"
	"github.com/tranche-dev/tranche/providers/linkerd"
	"github.com/tranche-dev/tranche/providers/traffic"
	"github.com/tranche-dev/tranche/test/harness"
)

var cp *harness.ControlPlane

var update = flag.Bool("update", false, "rewrite the golden files")

// TestMain installs the Gateway API CRDs: Linkerd follows HTTPRoutes attached to Services.
func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, &cp, harness.Options{CRDDirectories: conformance.MustCRDFiles(harness.GatewayAPICRDs())}))
}

func newRollout(t *testing.T) *trancheapi.Rollout {
	return conformance.NewRollout(cp.Namespace(t), "orders", "orders", 8080, trancheapi.Provider{Linkerd: &trancheapi.LinkerdProvider{}})
}

func route(ro *trancheapi.Rollout) *gatewayv1.HTTPRoute {
	return &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: ro.Name}}
}

func TestConformance(t *testing.T) {
	conformance.Run(t, cp.Client, newRollout, linkerd.New, conformance.Capabilities{
		Weights:        []int32{0, 5, 50, 100},
		AnyWeight:      true,
		Match:          true,
		Sticky:         true,
		BuiltinMetrics: true,
		Unconfirmed:    traffic.Pending,
		RoutingObjects: func(ro *trancheapi.Rollout) []client.Object { return []client.Object{route(ro)} },
		// Released, the route attached to the apex Service sends to it: Linkerd's default.
		Release: &conformance.ReleaseCheck{
			Objects: func(ro *trancheapi.Rollout) []client.Object { return []client.Object{route(ro)} },
			SendsTo: func(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) []string {
				r := route(ro)
				conformance.Get(t, c, r)
				return gatewayapi.ServicesRouted(r, ro)
			},
		},
	})
}

// The route attaches to the Rollout's Service, as Linkerd's mesh mode expects.
func TestTheRouteAttachesToTheService(t *testing.T) {
	ro := newRollout(t)
	conformance.Start(t, cp.Client, ro, linkerd.New)
	r := route(ro)
	conformance.Get(t, cp.Client, r)
	require.Len(t, r.Spec.ParentRefs, 1)
	parent := r.Spec.ParentRefs[0]
	assert.Equal(t, gatewayv1.Kind("Service"), *parent.Kind)
	assert.Equal(t, gatewayv1.Group(""), *parent.Group)
	assert.Equal(t, gatewayv1.ObjectName("orders"), parent.Name)
	assert.Empty(t, r.Spec.Hostnames)
}

// TestObjectsWritten shows the HTTPRoute on the Service for each kind of step.
func TestObjectsWritten(t *testing.T) {
	ro := newRollout(t)
	conformance.GoldenSteps(t, cp.Client, conformance.Start(t, cp.Client, ro, linkerd.New), ro, conformance.Steps[*gatewayv1.HTTPRoute]{
		Object: route(ro), Show: func(r *gatewayv1.HTTPRoute) any { return r.Spec }, Update: *update,
	})
}

// A gRPC service's route is a GRPCRoute on the Service, which Linkerd's mesh mode follows
// as it does HTTPRoutes: weights and A/B steps on metadata.
func TestConformanceGRPC(t *testing.T) {
	newGRPC := func(t *testing.T) *trancheapi.Rollout {
		ro := newRollout(t)
		ro.Spec.Service.Protocol = trancheapi.ProtocolGRPC
		return ro
	}
	grpcRoute := func(ro *trancheapi.Rollout) *gatewayv1.GRPCRoute {
		return &gatewayv1.GRPCRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: ro.Name}}
	}
	conformance.Run(t, cp.Client, newGRPC, linkerd.New, conformance.Capabilities{
		Weights:   []int32{0, 5, 50, 100},
		AnyWeight: true,
		Match:     true,
		SupportedMatch: []trancheapi.HTTPMatch{
			{Headers: []trancheapi.StringMatch{conformance.Exact("x-canary", "always")}},
			{GRPCMethod: &trancheapi.GRPCMethodMatch{Service: "shop.Orders"}},
		},
		BuiltinMetrics: true,
		Unconfirmed:    traffic.Pending,
		RoutingObjects: func(ro *trancheapi.Rollout) []client.Object { return []client.Object{grpcRoute(ro)} },
		Release: &conformance.ReleaseCheck{
			Objects: func(ro *trancheapi.Rollout) []client.Object { return []client.Object{grpcRoute(ro)} },
			SendsTo: func(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) []string {
				r := grpcRoute(ro)
				conformance.Get(t, c, r)
				return gatewayapi.GRPCServicesRouted(r, ro)
			},
		},
	})
}
