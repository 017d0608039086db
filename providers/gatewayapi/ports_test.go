package gatewayapi_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/gatewayapi"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// newPortsRollout is newRollout for a workload that serves HTTP on 80 and a TCP protocol on
// 9000 ("pipe"): through a Gateway, an HTTP listener's route and a TCP listener's.
var newPortsRollout = conformance.WithPorts(newRollout,
	trancheapi.ServicePort{Name: "pipe", Port: 9000, Protocol: trancheapi.ProtocolTCP})

// portRoutes are the routes of newPortsRollout, empty, to read: the HTTPRoute of port, then
// the TCPRoute of its port "pipe".
func portRoutes(ro *trancheapi.Rollout) (*gatewayv1.HTTPRoute, *gatewayv1.TCPRoute) {
	meta := func(suffix string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: ro.Namespace, Name: ro.Name + suffix}
	}
	return &gatewayv1.HTTPRoute{ObjectMeta: meta("")}, &gatewayv1.TCPRoute{ObjectMeta: meta("-pipe")}
}

func portRouteObjects(ro *trancheapi.Rollout) []client.Object {
	http, tcp := portRoutes(ro)
	return []client.Object{http, tcp}
}

// Every port's route passes the suite every provider passes, by weight alone (a Rollout of
// several ports has no A/B, mirror or sticky step), and is handed over when the Rollout goes.
func TestConformanceSeveralPorts(t *testing.T) {
	conformance.Run(t, cp.Client, newPortsRollout, gatewayapi.New, conformance.Capabilities{
		Weights:        []int32{0, 5, 50, 100},
		AnyWeight:      true,
		BuiltinMetrics: true,
		Unconfirmed:    traffic.Pending,
		RoutingObjects: portRouteObjects,
		Foreign:        conformance.ForeignEdit{Add: addUserPortFields, Check: checkUserPortFields},
		Release: &conformance.ReleaseCheck{
			Objects: portRouteObjects,
			SendsTo: func(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) []string {
				http, tcp := portRoutes(ro)
				for _, route := range []client.Object{http, tcp} {
					conformance.Get(t, c, route)
				}
				routed := gatewayapi.ServicesRouted(http, ro)
				require.Equal(t, routed, gatewayapi.TCPServicesRouted(tcp, ro), "every port's route sends to the same Services")
				return routed
			},
		},
	})
}

// addUserPortFields makes the user's edits of the HTTPRoute (addUserFields), and adds a
// backendRef of their own to the TCPRoute's one rule.
func addUserPortFields(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) {
	addUserFields(ctx, t, c, ro)
	_, tcp := portRoutes(ro)
	conformance.Get(t, c, tcp)
	tcp.Spec.Rules[0].BackendRefs = append(tcp.Spec.Rules[0].BackendRefs, gatewayv1.BackendRef{
		BackendObjectReference: gatewayv1.BackendObjectReference{Name: "replica", Port: ptr.To[gatewayv1.PortNumber](9000)},
		Weight:                 ptr.To[int32](0),
	})
	require.NoError(t, c.Update(ctx, tcp))
}

func checkUserPortFields(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) {
	t.Helper()
	checkUserFields(ctx, t, c, ro)
	_, tcp := portRoutes(ro)
	conformance.Get(t, c, tcp)
	assert.Contains(t, backendWeights(tcp.Spec.Rules[0].BackendRefs), "replica:9000=0", "the user's backendRef in the TCPRoute")
}

// backendWeights lists a rule's backendRefs as name:port=weight.
func backendWeights[R interface {
	gatewayv1.BackendRef | gatewayv1.HTTPBackendRef
}](refs []R) []string {
	var out []string
	for _, r := range refs {
		var ref gatewayv1.BackendRef
		switch r := any(r).(type) {
		case gatewayv1.BackendRef:
			ref = r
		case gatewayv1.HTTPBackendRef:
			ref = r.BackendRef
		}
		out = append(out, fmt.Sprintf("%s:%d=%d", ref.Name, ptr.Deref(ref.Port, 0), ptr.Deref(ref.Weight, 1)))
	}
	return out
}

// At every weight, each port's route sends that share to the canary's Service on its own
// port; a route whose share strays (a write cut short, a person's edit) makes the split
// unreadable until SetRoutes evens it out.
func TestEveryPortIsSplitByTheSameWeight(t *testing.T) {
	ctx := t.Context()
	ro := newPortsRollout(t)
	router := conformance.Start(t, cp.Client, ro, gatewayapi.New)
	require.NoError(t, router.SetRoutes(ctx, ro, traffic.Routes{CanaryWeight: 30}))

	http, tcp := portRoutes(ro)
	for _, route := range []client.Object{http, tcp} {
		conformance.Get(t, cp.Client, route)
	}
	assert.Equal(t, []string{"podinfo-primary:80=70", "podinfo-canary:80=30"}, backendWeights(http.Spec.Rules[0].BackendRefs))
	require.Len(t, tcp.Spec.Rules, 1)
	assert.Equal(t, []string{"podinfo-primary:9000=70", "podinfo-canary:9000=30"}, backendWeights(tcp.Spec.Rules[0].BackendRefs))
	assert.Equal(t, []gatewayv1.Hostname{"podinfo.example.com"}, http.Spec.Hostnames, "the HTTPRoute answers for the hostnames")
	assert.Equal(t, http.Spec.ParentRefs, tcp.Spec.ParentRefs, "every port's route attaches to the same parents")

	tcp.Spec.Rules[0].BackendRefs[0].Weight = ptr.To[int32](100)
	tcp.Spec.Rules[0].BackendRefs[1].Weight = ptr.To[int32](0)
	require.NoError(t, cp.Client.Update(ctx, tcp))
	_, err := router.Routes(ctx, ro)
	require.ErrorIs(t, err, providers.ErrUnreadable)
	assert.ErrorContains(t, err, "TCPRoute "+ro.Namespace+"/frontend-pipe gives the canary 0% where HTTPRoute "+ro.Namespace+"/frontend gives it 30%")
	require.NoError(t, router.SetRoutes(ctx, ro, traffic.Routes{CanaryWeight: 30}))
	got, err := router.Routes(ctx, ro)
	require.NoError(t, err)
	assert.Equal(t, int32(30), got.CanaryWeight)
}

// The split is the data plane's once every port's route is taken; a refusal of any names the
// route it is about.
func TestEveryPortsRouteMustBeTaken(t *testing.T) {
	ctx := t.Context()
	ro := newPortsRollout(t)
	router := conformance.Start(t, cp.Client, ro, gatewayapi.New)
	http, tcp := portRoutes(ro)
	say := func(route client.Object, status *gatewayv1.RouteStatus, accepted metav1.ConditionStatus) {
		t.Helper()
		conformance.Get(t, cp.Client, route)
		parent := gatewayv1.ParentReference{Name: "public", Namespace: ptr.To[gatewayv1.Namespace]("gateways")}
		status.Parents = []gatewayv1.RouteParentStatus{{ParentRef: parent, ControllerName: "example.com/gateway"}}
		for _, kind := range []gatewayv1.RouteConditionType{gatewayv1.RouteConditionAccepted, gatewayv1.RouteConditionResolvedRefs} {
			apimeta.SetStatusCondition(&status.Parents[0].Conditions, metav1.Condition{Type: string(kind), Status: metav1.ConditionTrue,
				Reason: "Fine", ObservedGeneration: route.GetGeneration()})
		}
		if accepted != metav1.ConditionTrue {
			apimeta.SetStatusCondition(&status.Parents[0].Conditions, metav1.Condition{Type: string(gatewayv1.RouteConditionAccepted), Status: accepted,
				Reason: "NotAllowedByListeners", Message: "no listener takes it", ObservedGeneration: route.GetGeneration()})
		}
		require.NoError(t, cp.Client.Status().Update(ctx, route))
	}

	say(http, &http.Status.RouteStatus, metav1.ConditionTrue)
	word, err := router.Acceptance(ctx, ro)
	require.NoError(t, err)
	assert.Equal(t, traffic.Pending, word.State, "the TCPRoute has not been spoken of: %s", word)
	assert.Contains(t, word.Parent, "TCPRoute "+ro.Namespace+"/frontend-pipe")

	say(tcp, &tcp.Status.RouteStatus, metav1.ConditionFalse)
	word, err = router.Acceptance(ctx, ro)
	require.NoError(t, err)
	assert.Equal(t, traffic.Refused, word.State, word.String())
	assert.Contains(t, word.Parent, "TCPRoute "+ro.Namespace+"/frontend-pipe")
	assert.Equal(t, "no listener takes it", word.Message)

	say(tcp, &tcp.Status.RouteStatus, metav1.ConditionTrue)
	word, err = router.Acceptance(ctx, ro)
	require.NoError(t, err)
	assert.Equal(t, traffic.Accepted, word.State, word.String())
}

// When the Rollout goes, each port's route is handed over to the app, one already gone
// notwithstanding; and a Rollout named as a port's route (shop-pipe beside shop's port pipe)
// does not take that route back: a released route is taken back only by the Rollout whose
// label it carries.
func TestPortsRoutesAreReleasedAndTakenBackByTheirRolloutAlone(t *testing.T) {
	ctx := t.Context()
	ro := newPortsRollout(t)
	router := conformance.Start(t, cp.Client, ro, gatewayapi.New)
	require.NoError(t, router.SetRoutes(ctx, ro, traffic.Routes{CanaryWeight: 30}))
	http, tcp := portRoutes(ro)
	conformance.Get(t, cp.Client, http)
	require.NoError(t, cp.Client.Delete(ctx, http))

	_, err := router.(providers.Releaser).Release(ctx, ro)
	require.NoError(t, err, "the HTTPRoute is gone; the TCPRoute is released all the same")
	conformance.Get(t, cp.Client, tcp)
	assert.True(t, providers.HandedOver(tcp), "the TCPRoute is handed over")
	assert.Equal(t, []string{ro.ServiceNames().Apex}, gatewayapi.TCPServicesRouted(tcp, ro))

	namesake := newTCPRollout(t)
	namesake.Namespace, namesake.Name = ro.Namespace, ro.Name+"-pipe"
	namesake.Spec.TargetRef.Name = "broker" // Services of its own
	conformance.Create(t, cp.Client, namesake)
	err = gatewayapi.New(cp.Client).Reconcile(ctx, namesake)
	require.ErrorIs(t, err, providers.ErrNotControlled, "a Rollout named as another's port's route does not take it")
	conformance.Get(t, cp.Client, tcp)
	assert.True(t, providers.HandedOver(tcp), "still handed over")
}
