package gatewayapi

import (
	"encoding/json"

	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// A gRPC service (spec.service.protocol GRPC) is routed by a GRPCRoute. A GRPCRoute is an
// HTTPRoute with fewer parts: its rules have names, matches, filters, backendRefs and session
// persistence, its matches a method instead of a path and no query parameters, its filters
// the same types, and it has no timeouts or retries. So the package reads and writes a
// GRPCRoute through an HTTPRoute view of it, and what it does to Tranche's rule, its
// backendRefs and its canary rules it does the same way to both kinds; a GRPCRoute's
// method matches travel through the view in the path (methodPath), which only an A/B step's
// method match reads or writes. The view is never written as an HTTPRoute.

// httpView is route seen as an HTTPRoute; grpcRoute gives it back exactly.
func httpView(route *gatewayv1.GRPCRoute) *gatewayv1.HTTPRoute {
	view := &gatewayv1.HTTPRoute{ObjectMeta: *route.ObjectMeta.DeepCopy()}
	view.Spec.CommonRouteSpec = *route.Spec.CommonRouteSpec.DeepCopy()
	view.Spec.Hostnames = route.Spec.DeepCopy().Hostnames
	view.Status.RouteStatus = *route.Status.RouteStatus.DeepCopy()
	for _, rule := range route.Spec.DeepCopy().Rules {
		r := gatewayv1.HTTPRouteRule{Name: rule.Name, Filters: httpFilters(rule.Filters), SessionPersistence: rule.SessionPersistence}
		for _, m := range rule.Matches {
			r.Matches = append(r.Matches, httpMatch(m))
		}
		for _, ref := range rule.BackendRefs {
			r.BackendRefs = append(r.BackendRefs, gatewayv1.HTTPBackendRef{BackendRef: ref.BackendRef, Filters: httpFilters(ref.Filters)})
		}
		view.Spec.Rules = append(view.Spec.Rules, r)
	}
	return view
}

// grpcRoute is the GRPCRoute an HTTPRoute view stands for. What a GRPCRoute cannot hold
// (query parameter matches, timeouts, retries, HTTP-only filters) the package never puts in
// the view of one: the API refuses what would need them for a GRPC service.
func grpcRoute(view *gatewayv1.HTTPRoute) *gatewayv1.GRPCRoute {
	view = view.DeepCopy()
	route := &gatewayv1.GRPCRoute{ObjectMeta: view.ObjectMeta}
	route.Spec.CommonRouteSpec = view.Spec.CommonRouteSpec
	route.Spec.Hostnames = view.Spec.Hostnames
	route.Status.RouteStatus = view.Status.RouteStatus
	for _, rule := range view.Spec.Rules {
		r := gatewayv1.GRPCRouteRule{Name: rule.Name, Filters: grpcFilters(rule.Filters), SessionPersistence: rule.SessionPersistence}
		for _, m := range rule.Matches {
			r.Matches = append(r.Matches, grpcMatch(m))
		}
		for _, ref := range rule.BackendRefs {
			r.BackendRefs = append(r.BackendRefs, gatewayv1.GRPCBackendRef{BackendRef: ref.BackendRef, Filters: grpcFilters(ref.Filters)})
		}
		route.Spec.Rules = append(route.Spec.Rules, r)
	}
	return route
}

// grpcMethodPath is the path type a GRPCRoute match's method is carried in, through the
// view: no HTTPRoute has it.
const grpcMethodPath gatewayv1.PathMatchType = "tranche.dev/grpc-method"

func httpMatch(m gatewayv1.GRPCRouteMatch) gatewayv1.HTTPRouteMatch {
	var out gatewayv1.HTTPRouteMatch
	if m.Method != nil {
		out.Path = methodPath(*m.Method)
	}
	for _, h := range m.Headers {
		out.Headers = append(out.Headers, gatewayv1.HTTPHeaderMatch{
			Type: (*gatewayv1.HeaderMatchType)(h.Type), Name: gatewayv1.HTTPHeaderName(h.Name), Value: h.Value,
		})
	}
	return out
}

// grpcMatch inverts httpMatch. A path other than a method's is the one a new rule of the
// view matches every request with (defaultMatch): a GRPCRoute match without a method.
func grpcMatch(m gatewayv1.HTTPRouteMatch) gatewayv1.GRPCRouteMatch {
	out := gatewayv1.GRPCRouteMatch{Method: methodOfPath(m.Path)}
	for _, h := range m.Headers {
		out.Headers = append(out.Headers, gatewayv1.GRPCHeaderMatch{
			Type: (*gatewayv1.GRPCHeaderMatchType)(h.Type), Name: gatewayv1.GRPCHeaderName(h.Name), Value: h.Value,
		})
	}
	return out
}

// methodPath carries a GRPCRoute match's method in the view's path.
func methodPath(m gatewayv1.GRPCMethodMatch) *gatewayv1.HTTPPathMatch {
	method, _ := json.Marshal(m) // a struct of strings: never fails
	return &gatewayv1.HTTPPathMatch{Type: ptr.To(grpcMethodPath), Value: ptr.To(string(method))}
}

// methodOfPath is the method a view's path carries; nil for any other path.
func methodOfPath(p *gatewayv1.HTTPPathMatch) *gatewayv1.GRPCMethodMatch {
	if p == nil || p.Type == nil || *p.Type != grpcMethodPath || p.Value == nil {
		return nil
	}
	method := &gatewayv1.GRPCMethodMatch{}
	if json.Unmarshal([]byte(*p.Value), method) != nil {
		return nil
	}
	return method
}

// An A/B step's grpcMethod is a GRPCRoute method match of type Exact, written out as the
// API server defaults it so that the route reads back as written.

func gatewayMethod(m trancheapi.GRPCMethodMatch) gatewayv1.GRPCMethodMatch {
	out := gatewayv1.GRPCMethodMatch{Type: ptr.To(gatewayv1.GRPCMethodMatchExact)}
	if m.Service != "" {
		out.Service = ptr.To(m.Service)
	}
	if m.Method != "" {
		out.Method = ptr.To(m.Method)
	}
	return out
}

// apiMethod inverts gatewayMethod; nil for a method match Tranche does not write (a regular
// expression).
func apiMethod(m *gatewayv1.GRPCMethodMatch) *trancheapi.GRPCMethodMatch {
	if m == nil || ptr.Deref(m.Type, gatewayv1.GRPCMethodMatchExact) != gatewayv1.GRPCMethodMatchExact {
		return nil
	}
	return &trancheapi.GRPCMethodMatch{Service: ptr.Deref(m.Service, ""), Method: ptr.Deref(m.Method, "")}
}

func httpFilters(filters []gatewayv1.GRPCRouteFilter) []gatewayv1.HTTPRouteFilter {
	var out []gatewayv1.HTTPRouteFilter
	for _, f := range filters {
		out = append(out, gatewayv1.HTTPRouteFilter{
			Type:                   gatewayv1.HTTPRouteFilterType(f.Type),
			RequestHeaderModifier:  f.RequestHeaderModifier,
			ResponseHeaderModifier: f.ResponseHeaderModifier,
			RequestMirror:          f.RequestMirror,
			ExtensionRef:           f.ExtensionRef,
		})
	}
	return out
}

func grpcFilters(filters []gatewayv1.HTTPRouteFilter) []gatewayv1.GRPCRouteFilter {
	var out []gatewayv1.GRPCRouteFilter
	for _, f := range filters {
		out = append(out, gatewayv1.GRPCRouteFilter{
			Type:                   gatewayv1.GRPCRouteFilterType(f.Type),
			RequestHeaderModifier:  f.RequestHeaderModifier,
			ResponseHeaderModifier: f.ResponseHeaderModifier,
			RequestMirror:          f.RequestMirror,
			ExtensionRef:           f.ExtensionRef,
		})
	}
	return out
}
