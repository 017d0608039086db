package controllers

import (
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlevent "sigs.k8s.io/controller-runtime/pkg/event"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// A route's status (what its parents say of it) starts a reconcile; Tranche's own writes of
// its spec, and its creation, do not: a look follows each of those already.
func TestRouteStatusChangedLetsThroughTheParentsWord(t *testing.T) {
	route := func(generation int64, accepted ...int64) *gatewayv1.HTTPRoute {
		r := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "podinfo", Generation: generation}}
		for _, g := range accepted {
			r.Status.Parents = append(r.Status.Parents, gatewayv1.RouteParentStatus{
				ParentRef: gatewayv1.ParentReference{Name: "public"}, ControllerName: "example.com/gateway",
				Conditions: []metav1.Condition{{Type: string(gatewayv1.RouteConditionAccepted), Status: metav1.ConditionTrue, ObservedGeneration: g, Reason: "Accepted"}},
			})
		}
		return r
	}
	update := func(old, new *gatewayv1.HTTPRoute) bool {
		return routeStatusChanged.Update(ctrlevent.UpdateEvent{ObjectOld: old, ObjectNew: new})
	}
	assert.True(t, update(route(2, 1), route(2, 2)), "a parent took the new generation")
	assert.True(t, update(route(2), route(2, 2)), "a parent's first word")
	assert.False(t, update(route(1, 1), route(2, 1)), "Tranche wrote a new split: its own write")
	assert.False(t, update(route(2, 2), route(2, 2)), "nothing a parent said changed")
	assert.False(t, routeStatusChanged.Create(ctrlevent.CreateEvent{Object: route(1)}))
	assert.True(t, routeStatusChanged.Delete(ctrlevent.DeleteEvent{Object: route(1, 1)}), "a route that is gone is put back")
}
