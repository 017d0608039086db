package smi_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/smi"
)

// plant creates the Rollout's TrafficSplit, changes it as edit says and writes it past the
// CRD's schema, as a cluster whose SMI CRD has none stores it.
func plant(t *testing.T, edit func(obj map[string]any)) (*trancheapi.Rollout, providers.Router) {
	t.Helper()
	ro := newRollout(t)
	require.NoError(t, cp.Client.Create(t.Context(), ro))
	router := smi.New(cp.Client)
	require.NoError(t, router.Reconcile(t.Context(), ro))
	ts := split(ro)
	require.NoError(t, cp.Client.Get(t.Context(), client.ObjectKeyFromObject(ts), ts))
	edit(ts.Object)
	conformance.WriteUnchecked(t, cp.Client, ts)
	return ro, router
}

// A weight of the wrong type in Tranche's backends makes the split unreadable, naming the
// field, rather than the other backend taking everything; SetRoutes writes them again.
func TestAWrongTypeInTranchesBackendsIsRepaired(t *testing.T) {
	ro, router := plant(t, func(obj map[string]any) {
		backends := obj["spec"].(map[string]any)["backends"].([]any)
		backends[0].(map[string]any)["weight"] = "100"
	})

	_, err := router.Routes(t.Context(), ro)
	require.ErrorIs(t, err, providers.ErrUnreadable)
	assert.ErrorContains(t, err, "TrafficSplit "+ro.Namespace+"/payments: spec.backends[0].weight is a string, not a number")

	require.NoError(t, router.SetRoutes(t.Context(), ro, providers.Routes{CanaryWeight: 5}))
	got, err := router.Routes(t.Context(), ro)
	require.NoError(t, err)
	assert.Equal(t, providers.Routes{CanaryWeight: 5}, got)
}

// The spec holds the user's matches beside Tranche's backends: of the wrong type, Tranche
// cannot keep them, and says so rather than replacing it.
func TestAWrongTypeOfTheSpecIsTheUsersToFix(t *testing.T) {
	ro, router := plant(t, func(obj map[string]any) { obj["spec"] = "payments" })

	for name, err := range map[string]error{
		"SetRoutes": router.SetRoutes(t.Context(), ro, providers.Routes{CanaryWeight: 5}),
		"Reconcile": router.Reconcile(t.Context(), ro),
		"Routes":    func() error { _, err := router.Routes(t.Context(), ro); return err }(),
	} {
		require.ErrorIs(t, err, providers.ErrMalformed, name)
		assert.ErrorContains(t, err, "TrafficSplit "+ro.Namespace+"/payments: spec is a string, not an object", name)
	}
}
