package istio_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/istio"
)

// started is a Rollout whose routing objects exist, and its Router.
func started(t *testing.T) (*trancheapi.Rollout, providers.Router) {
	t.Helper()
	ro := newRollout(t)
	require.NoError(t, cp.Client.Create(t.Context(), ro))
	router := istio.New(cp.Client)
	require.NoError(t, router.Reconcile(t.Context(), ro))
	return ro, router
}

// plant changes an object as edit says and writes it past the CRD's schema, as a cluster whose
// Istio CRDs have none stores it.
func plant(t *testing.T, obj *unstructured.Unstructured, edit func(spec map[string]any)) {
	t.Helper()
	require.NoError(t, cp.Client.Get(t.Context(), client.ObjectKeyFromObject(obj), obj))
	edit(obj.Object["spec"].(map[string]any))
	conformance.WriteUnchecked(t, cp.Client, obj)
}

// A field of Tranche's split route of the wrong type makes the split unreadable, naming the
// field; SetRoutes writes the route again.
func TestAWrongTypeInTranchesRouteIsRepaired(t *testing.T) {
	ro, router := started(t)
	plant(t, object("VirtualService", ro.Namespace, ro.Name), func(spec map[string]any) {
		spec["http"].([]any)[0].(map[string]any)["route"] = "cart-primary"
	})

	_, err := router.Routes(t.Context(), ro)
	require.ErrorIs(t, err, providers.ErrUnreadable)
	assert.ErrorContains(t, err, "VirtualService "+ro.Namespace+"/cart: spec.http[0].route is a string, not a list")

	require.NoError(t, router.SetRoutes(t.Context(), ro, providers.Routes{CanaryWeight: 5}))
	got, err := router.Routes(t.Context(), ro)
	require.NoError(t, err)
	assert.Equal(t, providers.Routes{CanaryWeight: 5}, got)
}

// A route of the user's that is not a route is theirs to fix: Tranche neither drops it nor
// writes beside it.
func TestAWrongTypeInAUsersRouteIsTheirsToFix(t *testing.T) {
	ro, router := started(t)
	vs := object("VirtualService", ro.Namespace, ro.Name)
	plant(t, vs, func(spec map[string]any) {
		spec["http"] = append([]any{"maintenance-page"}, spec["http"].([]any)...)
	})

	for name, err := range map[string]error{
		"SetRoutes": router.SetRoutes(t.Context(), ro, providers.Routes{CanaryWeight: 5}),
		"Reconcile": router.Reconcile(t.Context(), ro),
		"Routes":    func() error { _, err := router.Routes(t.Context(), ro); return err }(),
	} {
		require.ErrorIs(t, err, providers.ErrMalformed, name)
		assert.ErrorContains(t, err, "VirtualService "+ro.Namespace+"/cart: spec.http[0] is a string, not an object", name)
	}
	after := object("VirtualService", ro.Namespace, ro.Name)
	require.NoError(t, cp.Client.Get(t.Context(), client.ObjectKeyFromObject(after), after))
	assert.Equal(t, vs.GetResourceVersion(), after.GetResourceVersion(), "the VirtualService was written")
}

// The user's part of a DestinationRule's traffic policy is kept; of the wrong type, it cannot
// be, and Reconcile says so rather than replacing it.
func TestAWrongTypeInAUsersTrafficPolicyIsTheirsToFix(t *testing.T) {
	ro, router := started(t)
	primary, _ := istio.DestinationRuleNames(ro)
	plant(t, object("DestinationRule", ro.Namespace, primary), func(spec map[string]any) {
		spec["trafficPolicy"] = "LEAST_REQUEST"
	})

	err := router.Reconcile(t.Context(), ro)
	require.ErrorIs(t, err, providers.ErrMalformed)
	assert.ErrorContains(t, err, "DestinationRule "+ro.Namespace+"/cart-primary: spec.trafficPolicy is a string, not an object")
}
