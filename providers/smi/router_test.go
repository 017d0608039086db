package smi_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/smi"
	"github.com/tranche-dev/tranche/test/harness"
)

var cp *harness.ControlPlane

var update = flag.Bool("update", false, "rewrite the golden files")

// TestMain installs the SMI TrafficSplit CRD of smi-sdk-go, which serves v1alpha4.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tranche-smi-crds-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := harness.Main(m, &cp, harness.Options{CRDDirectories: conformance.MustCRDs(harness.SMICRDs(dir))})
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func newRollout(t *testing.T) *trancheapi.Rollout {
	return conformance.NewRollout(cp.Namespace(t), "payments", "payments", 80, trancheapi.Provider{SMI: &trancheapi.SMIProvider{}})
}

func split(ro *trancheapi.Rollout) *unstructured.Unstructured {
	gvk := schema.GroupVersionKind{Group: smi.Kind.Group, Version: "v1alpha4", Kind: smi.Kind.Kind}
	return providers.NewUnstructured(gvk, ro.Namespace, ro.Name)
}

// A TrafficSplit splits the apex Service, every port of it: a Rollout of several ports
// passes the suite's checks of weights.
func TestConformanceSeveralPorts(t *testing.T) {
	withPorts := conformance.WithPorts(newRollout, trancheapi.ServicePort{Name: "pipe", Port: 9000, Protocol: trancheapi.ProtocolTCP})
	conformance.Run(t, cp.Client, withPorts, smi.New, conformance.Capabilities{
		Weights:        []int32{0, 5, 50, 100},
		AnyWeight:      true,
		BuiltinMetrics: true,
		RoutingObjects: func(ro *trancheapi.Rollout) []client.Object { return []client.Object{split(ro)} },
	})
}

func TestConformance(t *testing.T) {
	conformance.Run(t, cp.Client, newRollout, smi.New, conformance.Capabilities{
		Weights:        []int32{0, 1, 5, 50, 99, 100},
		AnyWeight:      true,
		BuiltinMetrics: true,
		RoutingObjects: func(ro *trancheapi.Rollout) []client.Object { return []client.Object{split(ro)} },
		Foreign: conformance.ForeignEdit{
			// A user narrows the split to some routes: spec.matches.
			Add: func(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) {
				ts := split(ro)
				conformance.Get(t, c, ts)
				require.NoError(t, unstructured.SetNestedSlice(ts.Object, []any{map[string]any{"kind": "HTTPRouteGroup", "name": "api"}}, "spec", "matches"))
				require.NoError(t, c.Update(ctx, ts))
			},
			Check: func(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) {
				ts := split(ro)
				conformance.Get(t, c, ts)
				matches, _, _ := unstructured.NestedSlice(ts.Object, "spec", "matches")
				require.Len(t, matches, 1, "the user's matches")
			},
		},
		WrongTypes: map[string]conformance.WrongType{
			// Left out, it would send everything to the other backend.
			"a weight of Tranche's backends": {
				Object: split,
				Plant: func(ts map[string]any) {
					backends := ts["spec"].(map[string]any)["backends"].([]any)
					backends[0].(map[string]any)["weight"] = "100"
				},
				Says: "spec.backends[0].weight is a string, not a number",
			},
			// The spec holds the user's matches beside Tranche's backends.
			"the spec": {
				Object: split,
				Plant:  func(ts map[string]any) { ts["spec"] = "payments" },
				Says:   "spec is a string, not an object",
				Users:  true,
			},
		},
	})
}

// The TrafficSplit is written in the version the API server serves.
func TestTheServedVersionIsWritten(t *testing.T) {
	ro := newRollout(t)
	conformance.Start(t, cp.Client, ro, smi.New)
	ts := split(ro)
	conformance.Get(t, cp.Client, ts)
	assert.Equal(t, "split.smi-spec.io/v1alpha4", ts.GetAPIVersion())
	service, _, _ := unstructured.NestedString(ts.Object, "spec", "service")
	assert.Equal(t, "payments", service)
}

// TestObjectsWritten shows the TrafficSplit for each kind of step.
func TestObjectsWritten(t *testing.T) {
	ro := newRollout(t)
	conformance.GoldenSteps(t, cp.Client, conformance.Start(t, cp.Client, ro, smi.New), ro, conformance.Steps[*unstructured.Unstructured]{
		Object: split(ro),
		Show: func(ts *unstructured.Unstructured) any {
			return map[string]any{"apiVersion": ts.GetAPIVersion(), "spec": ts.Object["spec"]}
		},
		Update: *update,
	})
}
