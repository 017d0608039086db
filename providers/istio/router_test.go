package istio_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/istio"
	"github.com/tranche-dev/tranche/test/harness"
)

var cp *harness.ControlPlane

var update = flag.Bool("update", false, "rewrite the golden files")

// TestMain installs Istio's own CRDs, from the istio.io/api module.
func TestMain(m *testing.M) {
	crds, err := harness.IstioCRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(harness.Main(m, &cp, harness.Options{CRDDirectories: []string{crds}}))
}

func newRollout(t *testing.T) *trancheapi.Rollout {
	return &trancheapi.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: cp.Namespace(t), Name: "cart"},
		Spec: trancheapi.RolloutSpec{
			TargetRef: trancheapi.TargetRef{Kind: "Deployment", Name: "cart"},
			Service:   trancheapi.ServiceSpec{Port: 80},
			Provider: trancheapi.Provider{Istio: &trancheapi.IstioProvider{
				Gateways: []string{"mesh"},
				TrafficPolicy: &trancheapi.IstioTrafficPolicy{
					TLS:              &trancheapi.IstioTLS{Mode: "ISTIO_MUTUAL"},
					OutlierDetection: &trancheapi.IstioOutlierDetection{Consecutive5xxErrors: ptr.To[int32](5), Interval: &metav1.Duration{Duration: 10 * time.Second}},
					ConnectionPool:   &trancheapi.IstioConnectionPool{MaxConnections: ptr.To[int32](100), HTTP2MaxRequests: ptr.To[int32](200)},
				},
				Retries: &trancheapi.IstioRetries{Attempts: 3, PerTryTimeout: &metav1.Duration{Duration: 2 * time.Second}, RetryOn: "5xx,reset"},
				Timeout: &metav1.Duration{Duration: 10 * time.Second},
			}},
		},
	}
}

func object(kind string, ns, name string) *unstructured.Unstructured {
	gvk := istio.VirtualService
	if kind == "DestinationRule" {
		gvk = istio.DestinationRule
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// userRoute is a route a user added to the VirtualService: it must survive.
var userRoute = map[string]any{
	"name":  "maintenance",
	"match": []any{map[string]any{"uri": map[string]any{"prefix": "/maintenance"}}},
	"route": []any{map[string]any{"destination": map[string]any{"host": "maintenance-page"}}},
}

func TestConformance(t *testing.T) {
	conformance.Run(t, cp.Client, newRollout, istio.New, conformance.Capabilities{
		Weights:        []int32{0, 1, 5, 50, 99, 100},
		AnyWeight:      true,
		Match:          true,
		Mirror:         true,
		Sticky:         true,
		BuiltinMetrics: true,
		RoutingObjects: func(ro *trancheapi.Rollout) []client.Object {
			primary, canary := istio.DestinationRuleNames(ro)
			return []client.Object{object("VirtualService", ro.Namespace, ro.Name), object("DestinationRule", ro.Namespace, primary), object("DestinationRule", ro.Namespace, canary)}
		},
		Foreign: conformance.ForeignEdit{
			Add: func(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) {
				vs := object("VirtualService", ro.Namespace, ro.Name)
				require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(vs), vs))
				http, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
				require.NoError(t, unstructured.SetNestedSlice(vs.Object, append([]any{userRoute}, http...), "spec", "http"))
				vs.SetAnnotations(map[string]string{"example.com/owner": "cart"})
				require.NoError(t, c.Update(ctx, vs))
				// And a load balancer on the primary's DestinationRule.
				primary, _ := istio.DestinationRuleNames(ro)
				dr := object("DestinationRule", ro.Namespace, primary)
				require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(dr), dr))
				require.NoError(t, unstructured.SetNestedField(dr.Object, "LEAST_REQUEST", "spec", "trafficPolicy", "loadBalancer", "simple"))
				require.NoError(t, c.Update(ctx, dr))
			},
			Check: func(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) {
				vs := object("VirtualService", ro.Namespace, ro.Name)
				require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(vs), vs))
				http, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
				require.NotEmpty(t, http)
				require.Equal(t, userRoute, http[0], "the user's route, first as they put it")
				require.Equal(t, "cart", vs.GetAnnotations()["example.com/owner"])
				primary, _ := istio.DestinationRuleNames(ro)
				dr := object("DestinationRule", ro.Namespace, primary)
				require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(dr), dr))
				lb, _, _ := unstructured.NestedString(dr.Object, "spec", "trafficPolicy", "loadBalancer", "simple")
				require.Equal(t, "LEAST_REQUEST", lb, "the user's load balancer")
				mode, _, _ := unstructured.NestedString(dr.Object, "spec", "trafficPolicy", "tls", "mode")
				require.Equal(t, "ISTIO_MUTUAL", mode, "beside the Rollout's mutual TLS")
			},
		},
	})
}

// TestObjectsWritten shows the VirtualService and a DestinationRule for each kind of step.
func TestObjectsWritten(t *testing.T) {
	ctx := context.Background()
	ro := newRollout(t)
	require.NoError(t, cp.Client.Create(ctx, ro))
	router := istio.New(cp.Client)
	require.NoError(t, router.Reconcile(ctx, ro))
	primary, _ := istio.DestinationRuleNames(ro)
	dr := object("DestinationRule", ro.Namespace, primary)
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKeyFromObject(dr), dr))
	conformance.Golden(t, "destinationrule-primary", dr.Object["spec"], *update)
	conformance.GoldenSteps(t, router, ro, "virtualservice-", nil, func(t *testing.T) any {
		vs := object("VirtualService", ro.Namespace, ro.Name)
		require.NoError(t, cp.Client.Get(ctx, client.ObjectKeyFromObject(vs), vs))
		return vs.Object["spec"]
	}, *update)
}
