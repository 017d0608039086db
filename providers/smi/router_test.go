package smi_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/smi"
	"github.com/tranche-dev/tranche/test/harness"
)

var cp *harness.ControlPlane

// TestMain installs the SMI TrafficSplit CRD of smi-sdk-go, which serves v1alpha4.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tranche-smi-crds-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	crds, err := harness.SMICRDs(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(harness.Main(m, &cp, harness.Options{CRDDirectories: []string{crds}}))
}

func newRollout(t *testing.T) *trancheapi.Rollout {
	return &trancheapi.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: cp.Namespace(t), Name: "payments"},
		Spec: trancheapi.RolloutSpec{
			TargetRef: trancheapi.TargetRef{Kind: "Deployment", Name: "payments"},
			Service:   trancheapi.ServiceSpec{Port: 80},
			Provider:  trancheapi.Provider{SMI: &trancheapi.SMIProvider{}},
		},
	}
}

func split(ro *trancheapi.Rollout) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("split.smi-spec.io/v1alpha4")
	u.SetKind("TrafficSplit")
	u.SetNamespace(ro.Namespace)
	u.SetName(ro.Name)
	return u
}

func TestConformance(t *testing.T) {
	conformance.Run(t, cp.Client, newRollout, smi.New, conformance.Capabilities{
		Weights:        []int32{0, 1, 5, 50, 99, 100},
		AnyWeight:      true,
		BuiltinMetrics: true,
		RoutingObjects: func(ro *trancheapi.Rollout) []client.Object { return []client.Object{split(ro)} },
		Foreign: conformance.ForeignEdit{
			// A user narrows the split to some routes (spec.matches) and labels it.
			Add: func(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) {
				ts := split(ro)
				require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(ts), ts))
				require.NoError(t, unstructured.SetNestedSlice(ts.Object, []any{map[string]any{"kind": "HTTPRouteGroup", "name": "api"}}, "spec", "matches"))
				ts.SetLabels(map[string]string{"team": "payments"})
				require.NoError(t, c.Update(ctx, ts))
			},
			Check: func(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) {
				ts := split(ro)
				require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(ts), ts))
				matches, _, _ := unstructured.NestedSlice(ts.Object, "spec", "matches")
				require.Len(t, matches, 1, "the user's matches")
				require.Equal(t, "payments", ts.GetLabels()["team"])
			},
		},
	})
}

// The TrafficSplit is written in the version the API server serves.
func TestTheServedVersionIsWritten(t *testing.T) {
	ctx := context.Background()
	ro := newRollout(t)
	require.NoError(t, cp.Client.Create(ctx, ro))
	require.NoError(t, smi.New(cp.Client).Reconcile(ctx, ro))
	ts := split(ro)
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKeyFromObject(ts), ts))
	assert.Equal(t, "split.smi-spec.io/v1alpha4", ts.GetAPIVersion())
	service, _, _ := unstructured.NestedString(ts.Object, "spec", "service")
	assert.Equal(t, "payments", service)
}

var update = flag.Bool("update", false, "rewrite the golden files")

// TestObjectsWritten shows the TrafficSplit for each kind of step.
func TestObjectsWritten(t *testing.T) {
	ro := newRollout(t)
	conformance.Create(t, cp.Client, ro)
	router := smi.New(cp.Client)
	require.NoError(t, router.Reconcile(t.Context(), ro))
	conformance.GoldenSteps(t, router, ro, "", nil, func(t *testing.T) any {
		ts := split(ro)
		require.NoError(t, cp.Client.Get(t.Context(), client.ObjectKeyFromObject(ts), ts))
		return map[string]any{"apiVersion": ts.GetAPIVersion(), "spec": ts.Object["spec"]}
	}, *update)
}
