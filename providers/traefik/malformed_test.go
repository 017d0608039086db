package traefik_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/traefik"
)

// plant creates the Rollout's TraefikService, changes its spec as edit says and writes it
// past the CRD's schema, as a cluster whose Traefik CRDs have none stores it.
func plant(t *testing.T, edit func(spec map[string]any)) (*trancheapi.Rollout, providers.Router) {
	t.Helper()
	ro := newRollout(t)
	require.NoError(t, cp.Client.Create(t.Context(), ro))
	router := traefik.New(cp.Client)
	require.NoError(t, router.Reconcile(t.Context(), ro))
	ts := service(ro)
	require.NoError(t, cp.Client.Get(t.Context(), client.ObjectKeyFromObject(ts), ts))
	edit(ts.Object["spec"].(map[string]any))
	conformance.WriteUnchecked(t, cp.Client, ts)
	return ro, router
}

// A weight of the wrong type in Tranche's backends makes the split unreadable, naming the
// field, rather than Traefik's default weight; SetRoutes writes the backends again.
func TestAWrongTypeInTranchesBackendsIsRepaired(t *testing.T) {
	ro, router := plant(t, func(spec map[string]any) {
		services := spec["weighted"].(map[string]any)["services"].([]any)
		services[0].(map[string]any)["weight"] = "100"
	})

	_, err := router.Routes(t.Context(), ro)
	require.ErrorIs(t, err, providers.ErrUnreadable)
	assert.ErrorContains(t, err, "TraefikService "+ro.Namespace+"/api: spec.weighted.services[0].weight is a string, not a whole number")

	require.NoError(t, router.SetRoutes(t.Context(), ro, providers.Routes{CanaryWeight: 5}))
	got, err := router.Routes(t.Context(), ro)
	require.NoError(t, err)
	assert.Equal(t, providers.Routes{CanaryWeight: 5}, got)
}

// The weighted section holds the user's fields beside Tranche's backends (sticky sessions,
// say): of the wrong type, Tranche cannot keep them, and says so rather than replacing it.
func TestAWrongTypeInASectionIsTheUsersToFix(t *testing.T) {
	ro, router := plant(t, func(spec map[string]any) { spec["weighted"] = "api-primary" })

	for name, err := range map[string]error{
		"SetRoutes": router.SetRoutes(t.Context(), ro, providers.Routes{MirrorPercent: 20}),
		"Reconcile": router.Reconcile(t.Context(), ro),
		"Routes":    func() error { _, err := router.Routes(t.Context(), ro); return err }(),
	} {
		require.ErrorIs(t, err, providers.ErrMalformed, name)
		assert.ErrorContains(t, err, "TraefikService "+ro.Namespace+"/api: spec.weighted is a string, not an object", name)
	}
}
