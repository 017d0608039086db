package gatewayapi

import (
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/tranche-dev/tranche/providers/traffic"
)

func TestAcceptanceIsEveryParentsWordOnTheCurrentGeneration(t *testing.T) {
	public := gatewayv1.ParentReference{Name: "public", Namespace: ptr.To(gatewayv1.Namespace("gateways"))}
	internal := gatewayv1.ParentReference{Name: "internal"}
	// What an implementation writes back: the parentRef with the API's defaults filled in.
	reported := func(ref gatewayv1.ParentReference) gatewayv1.ParentReference {
		ref.Group = ptr.To(gatewayv1.Group(gatewayv1.GroupName))
		ref.Kind = ptr.To(gatewayv1.Kind("Gateway"))
		if ref.Namespace == nil {
			ref.Namespace = ptr.To(gatewayv1.Namespace("shop"))
		}
		return ref
	}
	condition := func(kind gatewayv1.RouteConditionType, status metav1.ConditionStatus, generation int64, reason string) metav1.Condition {
		return metav1.Condition{Type: string(kind), Status: status, ObservedGeneration: generation, Reason: reason, Message: "said by " + reason}
	}
	took := func(ref gatewayv1.ParentReference, generation int64) gatewayv1.RouteParentStatus {
		return gatewayv1.RouteParentStatus{ParentRef: reported(ref), ControllerName: "traefik.io/gateway-controller", Conditions: []metav1.Condition{
			condition(gatewayv1.RouteConditionAccepted, metav1.ConditionTrue, generation, "Accepted"),
			condition(gatewayv1.RouteConditionResolvedRefs, metav1.ConditionTrue, generation, "ResolvedRefs"),
		}}
	}
	refused := func(ref gatewayv1.ParentReference, kind gatewayv1.RouteConditionType, reason string) gatewayv1.RouteParentStatus {
		st := took(ref, 4)
		for i := range st.Conditions {
			if st.Conditions[i].Type == string(kind) {
				st.Conditions[i] = condition(kind, metav1.ConditionFalse, 4, reason)
			}
		}
		return st
	}
	for _, tc := range []struct {
		name    string
		parents []gatewayv1.RouteParentStatus
		want    traffic.Acceptance
	}{
		{"both parents took generation 4", []gatewayv1.RouteParentStatus{took(public, 4), took(internal, 4)},
			traffic.Acceptance{State: traffic.Accepted}},
		{"a parent is past it", []gatewayv1.RouteParentStatus{took(public, 5), took(internal, 4)},
			traffic.Acceptance{State: traffic.Accepted}},
		{"no status yet", nil,
			traffic.Acceptance{State: traffic.Pending, Parent: "Gateway gateways/public"}},
		{"a parent reported on generation 3 only", []gatewayv1.RouteParentStatus{took(public, 4), took(internal, 3)},
			traffic.Acceptance{State: traffic.Pending, Parent: "Gateway shop/internal"}},
		{"a parent has not reported at all", []gatewayv1.RouteParentStatus{took(public, 4)},
			traffic.Acceptance{State: traffic.Pending, Parent: "Gateway shop/internal"}},
		{"a report on another section of the Gateway is not this parent's",
			[]gatewayv1.RouteParentStatus{took(public, 4), took(gatewayv1.ParentReference{Name: "internal", SectionName: ptr.To(gatewayv1.SectionName("tls"))}, 4)},
			traffic.Acceptance{State: traffic.Pending, Parent: "Gateway shop/internal"}},
		{"a parent did not accept it", []gatewayv1.RouteParentStatus{took(public, 4), refused(internal, gatewayv1.RouteConditionAccepted, "NoMatchingListenerHostname")},
			traffic.Acceptance{State: traffic.Refused, Parent: "Gateway shop/internal", Reason: "Accepted=False (NoMatchingListenerHostname)", Message: "said by NoMatchingListenerHostname"}},
		{"a parent could not resolve a backend", []gatewayv1.RouteParentStatus{refused(public, gatewayv1.RouteConditionResolvedRefs, "BackendNotFound")},
			traffic.Acceptance{State: traffic.Refused, Parent: "Gateway gateways/public", Reason: "ResolvedRefs=False (BackendNotFound)", Message: "said by BackendNotFound"}},
		{"a refusal outweighs a parent yet to speak", []gatewayv1.RouteParentStatus{refused(internal, gatewayv1.RouteConditionAccepted, "NotAllowedByListeners")},
			traffic.Acceptance{State: traffic.Refused, Parent: "Gateway shop/internal", Reason: "Accepted=False (NotAllowedByListeners)", Message: "said by NotAllowedByListeners"}},
		{"a parent without a ResolvedRefs condition has not said it all", []gatewayv1.RouteParentStatus{took(public, 4), {ParentRef: reported(internal),
			Conditions: []metav1.Condition{condition(gatewayv1.RouteConditionAccepted, metav1.ConditionTrue, 4, "Accepted")}}},
			traffic.Acceptance{State: traffic.Pending, Parent: "Gateway shop/internal"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			route := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Generation: 4}}
			route.Spec.ParentRefs = []gatewayv1.ParentReference{public, internal}
			route.Status.Parents = tc.parents
			assert.Equal(t, tc.want, acceptance(route))
		})
	}
}

func TestAMeshRoutesParentIsItsService(t *testing.T) {
	route := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Generation: 2}}
	ref := gatewayv1.ParentReference{Group: ptr.To(gatewayv1.Group("")), Kind: ptr.To(gatewayv1.Kind("Service")), Name: "podinfo"}
	route.Spec.ParentRefs = []gatewayv1.ParentReference{ref}
	assert.Equal(t, traffic.Acceptance{State: traffic.Pending, Parent: "Service shop/podinfo"}, acceptance(route))
}
