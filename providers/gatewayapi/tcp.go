package gatewayapi

import (
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// A TCP service (spec.service.protocol TCP) is routed by a TCPRoute (its v1, of Gateway
// API's standard channel since v1.6, which holds one rule; v1alpha2 is deprecated): rules of
// backendRefs alone, no hostnames, no matches, no filters. Its
// HTTPRoute view has the rules' names and backendRefs; Tranche's rule is found and split as
// in an HTTPRoute, and the rest of an HTTPRoute (the match a new rule of the view gets,
// hostnames) a TCPRoute cannot hold, and the API refuses a TCP service what would need it.

// tcpView is route seen as an HTTPRoute; tcpRoute gives it back exactly.
func tcpView(route *gatewayv1.TCPRoute) *gatewayv1.HTTPRoute {
	route = route.DeepCopy()
	view := &gatewayv1.HTTPRoute{ObjectMeta: route.ObjectMeta}
	view.Spec.CommonRouteSpec = route.Spec.CommonRouteSpec
	view.Status.RouteStatus = route.Status.RouteStatus
	for _, rule := range route.Spec.Rules {
		r := gatewayv1.HTTPRouteRule{Name: rule.Name}
		for _, ref := range rule.BackendRefs {
			r.BackendRefs = append(r.BackendRefs, gatewayv1.HTTPBackendRef{BackendRef: ref})
		}
		view.Spec.Rules = append(view.Spec.Rules, r)
	}
	return view
}

func tcpRoute(view *gatewayv1.HTTPRoute) *gatewayv1.TCPRoute {
	view = view.DeepCopy()
	route := &gatewayv1.TCPRoute{ObjectMeta: view.ObjectMeta}
	route.Spec.CommonRouteSpec = view.Spec.CommonRouteSpec
	route.Status.RouteStatus = view.Status.RouteStatus
	for _, rule := range view.Spec.Rules {
		r := gatewayv1.TCPRouteRule{Name: rule.Name}
		for _, ref := range rule.BackendRefs {
			r.BackendRefs = append(r.BackendRefs, ref.BackendRef)
		}
		route.Spec.Rules = append(route.Spec.Rules, r)
	}
	return route
}
