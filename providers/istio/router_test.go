package istio_test

import (
	"context"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/istio"
	"github.com/tranche-dev/tranche/providers/traffic"
	"github.com/tranche-dev/tranche/test/harness"
)

var cp *harness.ControlPlane

var update = flag.Bool("update", false, "rewrite the golden files")

// TestMain installs Istio's own CRDs, from the istio.io/api module.
func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, &cp, harness.Options{CRDDirectories: conformance.MustCRDs(harness.IstioCRDs())}))
}

func newRollout(t *testing.T) *trancheapi.Rollout {
	return conformance.NewRollout(cp.Namespace(t), "cart", "cart", 80, trancheapi.Provider{Istio: &trancheapi.IstioProvider{
		Gateways: []string{"mesh"},
		TrafficPolicy: &trancheapi.IstioTrafficPolicy{
			TLS:              &trancheapi.IstioTLS{Mode: "ISTIO_MUTUAL"},
			OutlierDetection: &trancheapi.IstioOutlierDetection{Consecutive5xxErrors: ptr.To[int32](5), Interval: &metav1.Duration{Duration: 10 * time.Second}},
			ConnectionPool:   &trancheapi.IstioConnectionPool{MaxConnections: ptr.To[int32](100), HTTP2MaxRequests: ptr.To[int32](200)},
		},
		Retries: &trancheapi.IstioRetries{Attempts: 3, PerTryTimeout: &metav1.Duration{Duration: 2 * time.Second}, RetryOn: "5xx,reset"},
		Timeout: &metav1.Duration{Duration: 10 * time.Second},
	}})
}

func virtualService(ro *trancheapi.Rollout) *unstructured.Unstructured {
	return providers.NewUnstructured(istio.VirtualService, ro.Namespace, ro.Name)
}

// destinationRules are the Rollout's primary and canary DestinationRules.
func destinationRules(ro *trancheapi.Rollout) (primary, canary *unstructured.Unstructured) {
	p, c := istio.DestinationRuleNames(ro)
	return providers.NewUnstructured(istio.DestinationRule, ro.Namespace, p), providers.NewUnstructured(istio.DestinationRule, ro.Namespace, c)
}

// userRoute is a route a user added to the VirtualService: it must survive.
var userRoute = map[string]any{
	"name":  "maintenance",
	"match": []any{map[string]any{"uri": map[string]any{"prefix": "/maintenance"}}},
	"route": []any{map[string]any{"destination": map[string]any{"host": "maintenance-page"}}},
}

func TestConformance(t *testing.T) {
	conformance.Run(t, cp.Client, newRollout, istiodChecked(t), conformance.Capabilities{
		Weights:        []int32{0, 1, 5, 50, 99, 100},
		AnyWeight:      true,
		Match:          true,
		Mirror:         true,
		Sticky:         true,
		BuiltinMetrics: true,
		RoutingObjects: func(ro *trancheapi.Rollout) []client.Object {
			primary, canary := destinationRules(ro)
			return []client.Object{virtualService(ro), primary, canary}
		},
		// The DestinationRules are of the primary's and the canary's Services: they go.
		Release: &conformance.ReleaseCheck{
			Objects: func(ro *trancheapi.Rollout) []client.Object { return []client.Object{virtualService(ro)} },
			SendsTo: conformance.NamedIn(virtualService),
		},
		Foreign: conformance.ForeignEdit{
			Add: func(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) {
				vs := virtualService(ro)
				conformance.Get(t, c, vs)
				http, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
				require.NoError(t, unstructured.SetNestedSlice(vs.Object, append([]any{userRoute}, http...), "spec", "http"))
				require.NoError(t, c.Update(ctx, vs))
				// And a load balancer on the primary's DestinationRule.
				dr, _ := destinationRules(ro)
				conformance.Get(t, c, dr)
				require.NoError(t, unstructured.SetNestedField(dr.Object, "LEAST_REQUEST", "spec", "trafficPolicy", "loadBalancer", "simple"))
				require.NoError(t, c.Update(ctx, dr))
			},
			Check: func(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) {
				vs := virtualService(ro)
				conformance.Get(t, c, vs)
				http, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
				require.NotEmpty(t, http)
				require.Equal(t, userRoute, http[0], "the user's route, first as they put it")
				dr, _ := destinationRules(ro)
				conformance.Get(t, c, dr)
				lb, _, _ := unstructured.NestedString(dr.Object, "spec", "trafficPolicy", "loadBalancer", "simple")
				require.Equal(t, "LEAST_REQUEST", lb, "the user's load balancer")
				mode, _, _ := unstructured.NestedString(dr.Object, "spec", "trafficPolicy", "tls", "mode")
				require.Equal(t, "ISTIO_MUTUAL", mode, "beside the Rollout's mutual TLS")
			},
		},
		WrongTypes: map[string]conformance.WrongType{
			"in Tranche's split route": {
				Object: virtualService,
				// At rest the split gives the canary nothing: the route naming both versions'
				// clusters (tranche-clusters) comes first.
				Plant: func(vs map[string]any) { httpRoute(vs, 1)["route"] = "cart-primary" },
				Says:  "spec.http[1].route is a string, not a list",
			},
			"a route of the user's that is not one": {
				Object: virtualService,
				Plant: func(vs map[string]any) {
					spec := vs["spec"].(map[string]any)
					spec["http"] = append([]any{"maintenance-page"}, spec["http"].([]any)...)
				},
				Says:  "spec.http[0] is a string, not an object",
				Users: true,
			},
			"the user's traffic policy": {
				Object: func(ro *trancheapi.Rollout) *unstructured.Unstructured {
					primary, _ := destinationRules(ro)
					return primary
				},
				Plant: func(dr map[string]any) { dr["spec"].(map[string]any)["trafficPolicy"] = "LEAST_REQUEST" },
				Says:  "spec.trafficPolicy is a string, not an object",
				Users: true,
			},
		},
	})
}

// httpRoute is the i-th HTTP route of a VirtualService's content.
func httpRoute(vs map[string]any, i int) map[string]any {
	return vs["spec"].(map[string]any)["http"].([]any)[i].(map[string]any)
}

// TestObjectsWritten shows the VirtualService and a DestinationRule for each kind of step.
func TestObjectsWritten(t *testing.T) {
	ro := newRollout(t)
	router := conformance.Start(t, cp.Client, ro, istiodChecked(t))
	dr, _ := destinationRules(ro)
	conformance.Get(t, cp.Client, dr)
	conformance.Golden(t, "destinationrule-primary", dr.Object["spec"], *update)
	conformance.GoldenSteps(t, cp.Client, router, ro, conformance.Steps[*unstructured.Unstructured]{
		Prefix: "virtualservice-",
		Object: virtualService(ro),
		Show:   func(vs *unstructured.Unstructured) any { return vs.Object["spec"] },
		Update: *update,
	})
}

// The istio provider matches gRPC calls on their metadata only: a method match is refused,
// not written as a match of every call.
func TestAGRPCMethodMatchIsRefused(t *testing.T) {
	ro := newRollout(t)
	router := conformance.Start(t, cp.Client, ro, istio.New)
	err := router.SetRoutes(t.Context(), ro, traffic.Routes{Match: []trancheapi.HTTPMatch{{GRPCMethod: &trancheapi.GRPCMethodMatch{Method: "Check"}}}})
	assert.ErrorIs(t, err, providers.ErrUnsupported)
	assert.ErrorContains(t, err, "not on their method")
}
