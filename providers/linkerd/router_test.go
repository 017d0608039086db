package linkerd_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/linkerd"
	"github.com/tranche-dev/tranche/test/harness"
)

var cp *harness.ControlPlane

// TestMain installs the Gateway API CRDs: Linkerd follows HTTPRoutes attached to Services.
func TestMain(m *testing.M) {
	crds, err := harness.GatewayAPICRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(harness.Main(m, &cp, harness.Options{CRDDirectories: []string{crds}}))
}

func newRollout(t *testing.T) *trancheapi.Rollout {
	return &trancheapi.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: cp.Namespace(t), Name: "orders"},
		Spec: trancheapi.RolloutSpec{
			TargetRef: trancheapi.TargetRef{Kind: "Deployment", Name: "orders"},
			Service:   trancheapi.ServiceSpec{Port: 8080},
			Provider:  trancheapi.Provider{Linkerd: &trancheapi.LinkerdProvider{}},
		},
	}
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
		RoutingObjects: func(ro *trancheapi.Rollout) []client.Object { return []client.Object{route(ro)} },
		Foreign: conformance.ForeignEdit{
			Add: func(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) {
				r := route(ro)
				require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(r), r))
				r.Labels["team"] = "orders"
				r.Annotations = map[string]string{"example.com/owner": "orders"}
				require.NoError(t, c.Update(ctx, r))
			},
			Check: func(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) {
				r := route(ro)
				require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(r), r))
				require.Equal(t, "orders", r.Labels["team"])
				require.Equal(t, "orders", r.Annotations["example.com/owner"])
			},
		},
	})
}

// The route attaches to the Rollout's Service, as Linkerd's mesh mode expects.
func TestTheRouteAttachesToTheService(t *testing.T) {
	ctx := context.Background()
	ro := newRollout(t)
	require.NoError(t, cp.Client.Create(ctx, ro))
	require.NoError(t, linkerd.New(cp.Client).Reconcile(ctx, ro))
	r := route(ro)
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKeyFromObject(r), r))
	require.Len(t, r.Spec.ParentRefs, 1)
	parent := r.Spec.ParentRefs[0]
	assert.Equal(t, gatewayv1.Kind("Service"), *parent.Kind)
	assert.Equal(t, gatewayv1.Group(""), *parent.Group)
	assert.Equal(t, gatewayv1.ObjectName("orders"), parent.Name)
	assert.Empty(t, r.Spec.Hostnames)
}

var update = flag.Bool("update", false, "rewrite the golden files")

// TestObjectsWritten shows the HTTPRoute on the Service for each kind of step.
func TestObjectsWritten(t *testing.T) {
	ro := newRollout(t)
	conformance.Create(t, cp.Client, ro)
	router := linkerd.New(cp.Client)
	require.NoError(t, router.Reconcile(t.Context(), ro))
	conformance.GoldenSteps(t, router, ro, "", nil, func(t *testing.T) any {
		route := &gatewayv1.HTTPRoute{}
		require.NoError(t, cp.Client.Get(t.Context(), client.ObjectKey{Namespace: ro.Namespace, Name: ro.Name}, route))
		return route.Spec
	}, *update)
}
