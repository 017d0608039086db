package traefik_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/traefik"
	"github.com/tranche-dev/tranche/test/harness"
)

var cp *harness.ControlPlane

// TestMain installs Traefik's own CRDs, from the Traefik module.
func TestMain(m *testing.M) {
	crds, err := harness.TraefikCRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(harness.Main(m, &cp, harness.Options{CRDDirectories: []string{crds}}))
}

func newRollout(t *testing.T) *trancheapi.Rollout {
	return &trancheapi.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: cp.Namespace(t), Name: "api"},
		Spec: trancheapi.RolloutSpec{
			TargetRef: trancheapi.TargetRef{Kind: "Deployment", Name: "api"},
			Service:   trancheapi.ServiceSpec{Port: 8080},
			Provider:  trancheapi.Provider{Traefik: &trancheapi.TraefikProvider{}},
		},
	}
}

func service(ro *trancheapi.Rollout) *unstructured.Unstructured {
	ts := &unstructured.Unstructured{}
	ts.SetGroupVersionKind(traefik.GVK)
	ts.SetNamespace(ro.Namespace)
	ts.SetName(ro.Name)
	return ts
}

func TestConformance(t *testing.T) {
	conformance.Run(t, cp.Client, newRollout, traefik.New, conformance.Capabilities{
		Weights:        []int32{0, 1, 5, 33, 50, 99, 100},
		AnyWeight:      true,
		Mirror:         true,
		Sticky:         true,
		BuiltinMetrics: true,
		RoutingObjects: func(ro *trancheapi.Rollout) []client.Object { return []client.Object{service(ro)} },
		Foreign: conformance.ForeignEdit{
			// A user labels and annotates the TraefikService; its spec is Tranche's (see
			// TestUserFieldsOfASectionComeBack for sticky sessions).
			Add: func(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) {
				ts := service(ro)
				require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(ts), ts))
				ts.SetLabels(map[string]string{"team": "payments"})
				ts.SetAnnotations(map[string]string{"example.com/owner": "payments"})
				require.NoError(t, c.Update(ctx, ts))
			},
			Check: func(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) {
				ts := service(ro)
				require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(ts), ts))
				require.Equal(t, "payments", ts.GetLabels()["team"])
				require.Equal(t, "payments", ts.GetAnnotations()["example.com/owner"])
			},
		},
	})
}

// Traefik serves a TraefikService's weighted section or its mirroring one, not both: the
// fields a user set in the weighted section wait through a mirror step and come back.
func TestUserFieldsOfASectionComeBack(t *testing.T) {
	ctx := context.Background()
	ro := newRollout(t)
	require.NoError(t, cp.Client.Create(ctx, ro))
	router := traefik.New(cp.Client)
	require.NoError(t, router.Reconcile(ctx, ro))
	ts := service(ro)
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKeyFromObject(ts), ts))
	require.NoError(t, unstructured.SetNestedField(ts.Object, "session", "spec", "weighted", "sticky", "cookie", "name"))
	require.NoError(t, cp.Client.Update(ctx, ts))

	require.NoError(t, router.SetRoutes(ctx, ro, providers.Routes{MirrorPercent: 20}))
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKeyFromObject(ts), ts))
	_, weighted, _ := unstructured.NestedMap(ts.Object, "spec", "weighted")
	assert.False(t, weighted, "no weighted section while mirroring: Traefik would serve it instead")

	require.NoError(t, router.SetRoutes(ctx, ro, providers.Routes{CanaryWeight: 10}))
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKeyFromObject(ts), ts))
	name, _, _ := unstructured.NestedString(ts.Object, "spec", "weighted", "sticky", "cookie", "name")
	assert.Equal(t, "session", name)
	assert.Empty(t, stashed(ts), "nothing left waiting")
	routes, err := router.Routes(ctx, ro)
	require.NoError(t, err)
	assert.Equal(t, providers.Routes{CanaryWeight: 10}, routes, "the user's sticky section is not Tranche's affinity")

	// Tranche's affinity takes the sticky section for its time, then gives the user's back.
	sticky := providers.Routes{CanaryWeight: 10, Sticky: conformance.SampleSticky()}
	require.NoError(t, router.SetRoutes(ctx, ro, sticky))
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKeyFromObject(ts), ts))
	name, _, _ = unstructured.NestedString(ts.Object, "spec", "weighted", "sticky", "cookie", "name")
	assert.Equal(t, "tranche-canary", name)
	routes, err = router.Routes(ctx, ro)
	require.NoError(t, err)
	assert.Equal(t, sticky, routes)
	for _, r := range []providers.Routes{{MirrorPercent: 20}, {CanaryWeight: 10}} {
		require.NoError(t, router.SetRoutes(ctx, ro, r))
	}
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKeyFromObject(ts), ts))
	name, _, _ = unstructured.NestedString(ts.Object, "spec", "weighted", "sticky", "cookie", "name")
	assert.Equal(t, "session", name, "the user's sticky section is back")
	assert.Empty(t, stashed(ts), "nothing left waiting")
}

// stashed are the annotations in which user fields wait.
func stashed(ts *unstructured.Unstructured) []string {
	var keys []string
	for k := range ts.GetAnnotations() {
		if strings.HasPrefix(k, "tranche.dev/traefik-") {
			keys = append(keys, k)
		}
	}
	return keys
}

var update = flag.Bool("update", false, "rewrite the golden files")

// TestObjectsWritten shows the TraefikService for each kind of step.
func TestObjectsWritten(t *testing.T) {
	ctx := context.Background()
	ro := newRollout(t)
	require.NoError(t, cp.Client.Create(ctx, ro))
	router := traefik.New(cp.Client)
	require.NoError(t, router.Reconcile(ctx, ro))
	conformance.GoldenSteps(t, router, ro, "", nil, func(t *testing.T) any {
		ts := service(ro)
		require.NoError(t, cp.Client.Get(ctx, client.ObjectKeyFromObject(ts), ts))
		return map[string]any{"spec": ts.Object["spec"], "annotations": ts.GetAnnotations()}
	}, *update)
}

// With nativeLB, Traefik is told to reach both Services at their ClusterIPs.
func TestNativeLBGoesOnBothServices(t *testing.T) {
	ctx := t.Context()
	ro := newRollout(t)
	ro.Spec.Provider.Traefik.NativeLB = true
	require.NoError(t, cp.Client.Create(ctx, ro))
	router := traefik.New(cp.Client)
	require.NoError(t, router.Reconcile(ctx, ro))
	require.NoError(t, router.SetRoutes(ctx, ro, providers.Routes{CanaryWeight: 5}))
	ts := service(ro)
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKeyFromObject(ts), ts))
	services, _, _ := unstructured.NestedSlice(ts.Object, "spec", "weighted", "services")
	require.Len(t, services, 2)
	for _, s := range services {
		assert.Equal(t, true, s.(map[string]any)["nativeLB"], "%v", s)
	}
	routes, err := router.Routes(ctx, ro)
	require.NoError(t, err)
	assert.Equal(t, providers.Routes{CanaryWeight: 5}, routes)
}
