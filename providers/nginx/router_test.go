package nginx_test

import (
	"context"
	"flag"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/nginx"
	"github.com/tranche-dev/tranche/providers/traffic"
	"github.com/tranche-dev/tranche/test/harness"
)

var cp *harness.ControlPlane

func TestMain(m *testing.M) { os.Exit(harness.Main(m, &cp, harness.Options{})) }

var update = flag.Bool("update", false, "rewrite the golden files")

// userIngress is the user's Ingress for the Rollout's Service, the one Tranche copies.
func userIngress(ns string) *networkingv1.Ingress {
	pathType := networkingv1.PathTypePrefix
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "storefront", Annotations: map[string]string{"nginx.ingress.kubernetes.io/proxy-body-size": "8m"}},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("nginx"),
			TLS:              []networkingv1.IngressTLS{{Hosts: []string{"shop.example.com"}, SecretName: "shop-tls"}},
			Rules: []networkingv1.IngressRule{{
				Host: "shop.example.com",
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
					{Path: "/", PathType: &pathType, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "storefront", Port: networkingv1.ServiceBackendPort{Number: 80}}}},
					{Path: "/static", PathType: &pathType, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "cdn", Port: networkingv1.ServiceBackendPort{Number: 80}}}},
				}}},
			}},
		},
	}
}

// newRollout creates the user's Ingress in a namespace of the test's own, and returns the
// Rollout that routes with it.
func newRollout(t *testing.T) *trancheapi.Rollout {
	ns := cp.Namespace(t)
	require.NoError(t, cp.Client.Create(t.Context(), userIngress(ns)))
	return conformance.NewRollout(ns, "storefront", "storefront", 80,
		trancheapi.Provider{NGINX: &trancheapi.NGINXProvider{IngressRef: trancheapi.LocalObjectReference{Name: "storefront"}}})
}

// named is an empty Ingress of that name, to read.
func named(ns, name string) *networkingv1.Ingress {
	return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func canary(ro *trancheapi.Rollout) *networkingv1.Ingress {
	return named(ro.Namespace, nginx.CanaryName(ro))
}

// supportedMatch is what ingress-nginx can match: a header alone, and the cookie "always".
func supportedMatch() []trancheapi.HTTPMatch {
	return []trancheapi.HTTPMatch{
		{Headers: []trancheapi.StringMatch{{Name: "x-canary", Value: "^(yes|true)$", Type: trancheapi.MatchRegularExpression}}},
		{Cookies: []trancheapi.StringMatch{{Name: "beta", Value: "always", Type: trancheapi.MatchExact}}},
	}
}

func TestConformance(t *testing.T) {
	conformance.Run(t, cp.Client, newRollout, nginx.New, conformance.Capabilities{
		Weights:        []int32{0, 1, 5, 50, 99, 100},
		AnyWeight:      true,
		Match:          true,
		SupportedMatch: supportedMatch(),
		Sticky:         true,
		BuiltinMetrics: true,
		RoutingObjects: func(ro *trancheapi.Rollout) []client.Object { return []client.Object{canary(ro)} },
		Foreign: conformance.ForeignEdit{
			// The user's Ingress is only read: whatever the steps, it stays as it was.
			Check: func(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) {
				user := named(ro.Namespace, "storefront")
				conformance.Get(t, c, user)
				require.Equal(t, userIngress(ro.Namespace).Spec, user.Spec, "the user's Ingress is untouched")
				require.Equal(t, "8m", user.Annotations["nginx.ingress.kubernetes.io/proxy-body-size"])
			},
		},
	})
}

// TestObjectsWritten shows the canary Ingress for each kind of step.
func TestObjectsWritten(t *testing.T) {
	ro := newRollout(t)
	conformance.GoldenSteps(t, cp.Client, conformance.Start(t, cp.Client, ro, nginx.New), ro, conformance.Steps[*networkingv1.Ingress]{
		Match:  supportedMatch(),
		Object: canary(ro),
		Show: func(ing *networkingv1.Ingress) any {
			return map[string]any{"annotations": ing.Annotations, "spec": ing.Spec}
		},
		Update: *update,
	})
}

// What ingress-nginx cannot do is refused, saying what it can.
func TestUnsupportedMatchesAreRefused(t *testing.T) {
	ctx := t.Context()
	ro := newRollout(t)
	router := conformance.Start(t, cp.Client, ro, nginx.New)
	header := func(name string) trancheapi.StringMatch { return trancheapi.StringMatch{Name: name, Value: "on"} }
	for name, match := range map[string][]trancheapi.HTTPMatch{
		"two headers in one match":   {{Headers: []trancheapi.StringMatch{header("a"), header("b")}}},
		"two header matches":         {{Headers: []trancheapi.StringMatch{header("a")}}, {Headers: []trancheapi.StringMatch{header("b")}}},
		"a query parameter":          {{QueryParams: []trancheapi.StringMatch{header("v")}}},
		"a header prefix":            {{Headers: []trancheapi.StringMatch{{Name: "a", Value: "x", Type: trancheapi.MatchPrefix}}}},
		"a cookie other than always": {{Cookies: []trancheapi.StringMatch{{Name: "beta", Value: "yes"}}}},
		"a gRPC method":              {{GRPCMethod: &trancheapi.GRPCMethodMatch{Method: "Check"}}},
	} {
		err := router.SetRoutes(ctx, ro, traffic.Routes{Match: match})
		assert.ErrorIs(t, err, providers.ErrUnsupported, name)
		assert.ErrorContains(t, err, "ingress-nginx matches one header", name)
	}
}

func TestAMissingIngressIsTheUsersToFix(t *testing.T) {
	ctx := t.Context()
	ro := newRollout(t)
	ro.Spec.Provider.NGINX.IngressRef.Name = "no-such-ingress"
	require.NoError(t, cp.Client.Create(ctx, ro))
	err := nginx.New(cp.Client).Reconcile(ctx, ro)
	require.ErrorIs(t, err, providers.ErrMissingReference)
	assert.ErrorContains(t, err, `the Ingress "no-such-ingress" of spec.provider.nginx.ingressRef does not exist`)
}

// A user's Ingress with its own cookie affinity: while the canary keeps its clients, the
// canary Ingress has Tranche's affinity (and reconciling does not fight over it); after, the
// user's comes back.
func TestTheUsersAffinityYieldsWhileTheCanaryIsSticky(t *testing.T) {
	ctx := t.Context()
	ro := newRollout(t)
	user := named(ro.Namespace, "storefront")
	conformance.Get(t, cp.Client, user)
	user.Annotations["nginx.ingress.kubernetes.io/affinity"] = "cookie"
	user.Annotations["nginx.ingress.kubernetes.io/session-cookie-name"] = "route"
	require.NoError(t, cp.Client.Update(ctx, user))
	router := conformance.Start(t, cp.Client, ro, nginx.New)

	cookieName := func() string {
		ing := canary(ro)
		conformance.Get(t, cp.Client, ing)
		return ing.Annotations["nginx.ingress.kubernetes.io/session-cookie-name"]
	}
	require.Equal(t, "route", cookieName(), "the user's affinity applies to the canary's requests")

	sticky := traffic.Routes{CanaryWeight: 5, Sticky: conformance.SampleSticky()}
	require.NoError(t, router.SetRoutes(ctx, ro, sticky))
	require.NoError(t, router.Reconcile(ctx, ro))
	require.Equal(t, "tranche-canary", cookieName())
	routes, err := router.Routes(ctx, ro)
	require.NoError(t, err)
	require.Equal(t, sticky, routes)

	require.NoError(t, router.SetRoutes(ctx, ro, traffic.Routes{CanaryWeight: 50}))
	require.NoError(t, router.Reconcile(ctx, ro))
	require.Equal(t, "route", cookieName(), "the user's affinity is back")
	routes, err = router.Routes(ctx, ro)
	require.NoError(t, err)
	require.Equal(t, traffic.Routes{CanaryWeight: 50}, routes, "the user's affinity is not Tranche's")
}
