package traefik_test

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/traefik"
	"github.com/tranche-dev/tranche/providers/traffic"
	"github.com/tranche-dev/tranche/test/harness"
)

var cp *harness.ControlPlane

var update = flag.Bool("update", false, "rewrite the golden files")

// TestMain installs Traefik's own CRDs, from the Traefik module.
func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, &cp, harness.Options{CRDDirectories: conformance.MustCRDs(harness.TraefikCRDs())}))
}

func newRollout(t *testing.T) *trancheapi.Rollout {
	return conformance.NewRollout(cp.Namespace(t), "api", "api", 8080, trancheapi.Provider{Traefik: &trancheapi.TraefikProvider{}})
}

func service(ro *trancheapi.Rollout) *unstructured.Unstructured {
	return providers.NewUnstructured(traefik.GVK, ro.Namespace, ro.Name)
}

// The spec of the TraefikService is Tranche's, but for the user's fields of a section: see
// TestUserFieldsOfASectionComeBack for sticky sessions.
func TestConformance(t *testing.T) {
	conformance.Run(t, cp.Client, newRollout, traefik.New, conformance.Capabilities{
		Weights:        []int32{0, 1, 5, 33, 50, 99, 100},
		AnyWeight:      true,
		Mirror:         true,
		Sticky:         true,
		BuiltinMetrics: true,
		RoutingObjects: func(ro *trancheapi.Rollout) []client.Object { return []client.Object{service(ro)} },
		Release: &conformance.ReleaseCheck{
			Objects: func(ro *trancheapi.Rollout) []client.Object { return []client.Object{service(ro)} },
			SendsTo: conformance.NamedIn(service),
		},
		WrongTypes: map[string]conformance.WrongType{
			// Read as Traefik's default weight, it would be a split Tranche did not write.
			"a weight of Tranche's backends": {
				Object: service,
				Plant: func(ts map[string]any) {
					services := ts["spec"].(map[string]any)["weighted"].(map[string]any)["services"].([]any)
					services[0].(map[string]any)["weight"] = "100"
				},
				Says: "spec.weighted.services[0].weight is a string, not a whole number",
			},
			// The section holds the user's fields beside Tranche's backends (sticky sessions).
			"the weighted section": {
				Object: service,
				Plant:  func(ts map[string]any) { ts["spec"].(map[string]any)["weighted"] = "api-primary" },
				Says:   "spec.weighted is a string, not an object",
				Users:  true,
			},
		},
	})
}

// Traefik serves a TraefikService's weighted section or its mirroring one, not both: the
// fields a user set in the weighted section wait through a mirror step and come back.
func TestUserFieldsOfASectionComeBack(t *testing.T) {
	ctx := t.Context()
	ro := newRollout(t)
	router := conformance.Start(t, cp.Client, ro, traefik.New)
	ts := service(ro)
	conformance.Get(t, cp.Client, ts)
	require.NoError(t, unstructured.SetNestedField(ts.Object, "session", "spec", "weighted", "sticky", "cookie", "name"))
	require.NoError(t, cp.Client.Update(ctx, ts))

	require.NoError(t, router.SetRoutes(ctx, ro, traffic.Routes{MirrorPercent: 20}))
	conformance.Get(t, cp.Client, ts)
	_, weighted, _ := unstructured.NestedMap(ts.Object, "spec", "weighted")
	assert.False(t, weighted, "no weighted section while mirroring: Traefik would serve it instead")

	require.NoError(t, router.SetRoutes(ctx, ro, traffic.Routes{CanaryWeight: 10}))
	conformance.Get(t, cp.Client, ts)
	name, _, _ := unstructured.NestedString(ts.Object, "spec", "weighted", "sticky", "cookie", "name")
	assert.Equal(t, "session", name)
	assert.Empty(t, stashed(ts), "nothing left waiting")
	routes, err := router.Routes(ctx, ro)
	require.NoError(t, err)
	assert.Equal(t, traffic.Routes{CanaryWeight: 10}, routes, "the user's sticky section is not Tranche's affinity")

	// Tranche's affinity takes the sticky section for its time, then gives the user's back.
	sticky := traffic.Routes{CanaryWeight: 10, Sticky: conformance.SampleSticky()}
	require.NoError(t, router.SetRoutes(ctx, ro, sticky))
	conformance.Get(t, cp.Client, ts)
	name, _, _ = unstructured.NestedString(ts.Object, "spec", "weighted", "sticky", "cookie", "name")
	assert.Equal(t, "tranche-canary", name)
	routes, err = router.Routes(ctx, ro)
	require.NoError(t, err)
	assert.Equal(t, sticky, routes)
	for _, r := range []traffic.Routes{{MirrorPercent: 20}, {CanaryWeight: 10}} {
		require.NoError(t, router.SetRoutes(ctx, ro, r))
	}
	conformance.Get(t, cp.Client, ts)
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

// TestObjectsWritten shows the TraefikService for each kind of step.
func TestObjectsWritten(t *testing.T) {
	ro := newRollout(t)
	conformance.GoldenSteps(t, cp.Client, conformance.Start(t, cp.Client, ro, traefik.New), ro, conformance.Steps[*unstructured.Unstructured]{
		Object: service(ro),
		Show: func(ts *unstructured.Unstructured) any {
			return map[string]any{"spec": ts.Object["spec"], "annotations": ts.GetAnnotations()}
		},
		Update: *update,
	})
}

// With nativeLB, Traefik is told to reach both Services at their ClusterIPs.
func TestNativeLBGoesOnBothServices(t *testing.T) {
	ctx := t.Context()
	ro := newRollout(t)
	ro.Spec.Provider.Traefik.NativeLB = true
	router := conformance.Start(t, cp.Client, ro, traefik.New)
	require.NoError(t, router.SetRoutes(ctx, ro, traffic.Routes{CanaryWeight: 5}))
	ts := service(ro)
	conformance.Get(t, cp.Client, ts)
	services, _, _ := unstructured.NestedSlice(ts.Object, "spec", "weighted", "services")
	require.Len(t, services, 2)
	for _, s := range services {
		assert.Equal(t, true, s.(map[string]any)["nativeLB"], "%v", s)
	}
	routes, err := router.Routes(ctx, ro)
	require.NoError(t, err)
	assert.Equal(t, traffic.Routes{CanaryWeight: 5}, routes)

	// A mirror reaches the primary, and the canary it copies requests to, the same way.
	require.NoError(t, router.SetRoutes(ctx, ro, traffic.Routes{MirrorPercent: 20}))
	conformance.Get(t, cp.Client, ts)
	mirroring, _, _ := unstructured.NestedMap(ts.Object, "spec", "mirroring")
	assert.Equal(t, true, mirroring["nativeLB"], "the mirroring's own service, the primary: %v", mirroring)
	mirrors, _, _ := unstructured.NestedSlice(mirroring, "mirrors")
	require.Len(t, mirrors, 1)
	assert.Equal(t, true, mirrors[0].(map[string]any)["nativeLB"], "%v", mirrors[0])
	routes, err = router.Routes(ctx, ro)
	require.NoError(t, err)
	assert.Equal(t, traffic.Routes{MirrorPercent: 20}, routes)

	// Back to a split, nothing of the mirroring stays behind.
	require.NoError(t, router.SetRoutes(ctx, ro, traffic.Routes{CanaryWeight: 50}))
	conformance.Get(t, cp.Client, ts)
	_, found, _ := unstructured.NestedMap(ts.Object, "spec", "mirroring")
	assert.False(t, found, "%v", ts.Object["spec"])
	assert.Empty(t, ts.GetAnnotations()["tranche.dev/traefik-mirroring"], "nothing of the user's to keep")
}
