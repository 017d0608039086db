package gatewayapi

import (
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Whatever a GRPCRoute holds goes through its HTTPRoute view and back unchanged: a user's
// rules for methods and services, regular expressions, filters of every kind a GRPCRoute
// has, backendRef filters, session persistence and the status.
func TestAGRPCRouteGoesThroughItsViewUnchanged(t *testing.T) {
	mirror := &gatewayv1.HTTPRequestMirrorFilter{BackendRef: gatewayv1.BackendObjectReference{Name: "shadow"}, Percent: ptr.To[int32](10)}
	headers := &gatewayv1.HTTPHeaderFilter{Set: []gatewayv1.HTTPHeader{{Name: "x-served-by", Value: "shop"}}}
	route := &gatewayv1.GRPCRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "orders", Labels: map[string]string{"team": "a"}, ResourceVersion: "7"},
		Spec: gatewayv1.GRPCRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "public"}}},
			Hostnames:       []gatewayv1.Hostname{"orders.example.com"},
			Rules: []gatewayv1.GRPCRouteRule{
				{
					Name: ptr.To(gatewayv1.SectionName("methods")),
					Matches: []gatewayv1.GRPCRouteMatch{
						{Method: &gatewayv1.GRPCMethodMatch{Service: ptr.To("shop.Orders"), Method: ptr.To("Get")}},
						{Method: &gatewayv1.GRPCMethodMatch{Type: ptr.To(gatewayv1.GRPCMethodMatchRegularExpression), Service: ptr.To("shop\\..*")}},
						{Method: &gatewayv1.GRPCMethodMatch{Method: ptr.To("List")}, Headers: []gatewayv1.GRPCHeaderMatch{{Name: "tenant", Value: "a"}}},
					},
					Filters: []gatewayv1.GRPCRouteFilter{
						{Type: gatewayv1.GRPCRouteFilterRequestHeaderModifier, RequestHeaderModifier: headers},
						{Type: gatewayv1.GRPCRouteFilterResponseHeaderModifier, ResponseHeaderModifier: headers},
						{Type: gatewayv1.GRPCRouteFilterRequestMirror, RequestMirror: mirror},
						{Type: gatewayv1.GRPCRouteFilterExtensionRef, ExtensionRef: &gatewayv1.LocalObjectReference{Group: "x.dev", Kind: "Rate", Name: "slow"}},
					},
					BackendRefs: []gatewayv1.GRPCBackendRef{{
						BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "orders", Port: ptr.To[gatewayv1.PortNumber](9090)}, Weight: ptr.To[int32](3)},
						Filters:    []gatewayv1.GRPCRouteFilter{{Type: gatewayv1.GRPCRouteFilterRequestHeaderModifier, RequestHeaderModifier: headers}},
					}},
					SessionPersistence: &gatewayv1.SessionPersistence{SessionName: ptr.To("orders")},
				},
				{Matches: []gatewayv1.GRPCRouteMatch{{}}},
				{},
			},
		},
		Status: gatewayv1.GRPCRouteStatus{RouteStatus: gatewayv1.RouteStatus{Parents: []gatewayv1.RouteParentStatus{{
			ParentRef: gatewayv1.ParentReference{Name: "public"}, ControllerName: "traefik.io/gateway-controller",
		}}}},
	}
	assert.Equal(t, route, grpcRoute(httpView(route)))
}

// A rule the view gains (Tranche's, when it makes the route) matches every request with a
// path prefix of "/": in the GRPCRoute, a match of no method.
func TestANewRuleOfTheViewMatchesEveryCall(t *testing.T) {
	view := &gatewayv1.HTTPRoute{Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{{Matches: []gatewayv1.HTTPRouteMatch{defaultMatch()}}}}}
	assert.Equal(t, []gatewayv1.GRPCRouteMatch{{}}, grpcRoute(view).Spec.Rules[0].Matches)
}

// Whatever a TCPRoute holds goes through its HTTPRoute view and back unchanged.
func TestATCPRouteGoesThroughItsViewUnchanged(t *testing.T) {
	route := &gatewayv1.TCPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "pg", Annotations: map[string]string{"team": "data"}},
		Spec: gatewayv1.TCPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "edge", SectionName: ptr.To(gatewayv1.SectionName("pg"))}}},
			Rules: []gatewayv1.TCPRouteRule{
				{Name: ptr.To(gatewayv1.SectionName("main")), BackendRefs: []gatewayv1.BackendRef{
					{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "pg-primary", Port: ptr.To[gatewayv1.PortNumber](5432)}, Weight: ptr.To[int32](90)},
					{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "pg-canary", Port: ptr.To[gatewayv1.PortNumber](5432)}, Weight: ptr.To[int32](10)},
				}},
				{},
			},
		},
		Status: gatewayv1.TCPRouteStatus{RouteStatus: gatewayv1.RouteStatus{Parents: []gatewayv1.RouteParentStatus{{ParentRef: gatewayv1.ParentReference{Name: "edge"}}}}},
	}
	assert.Equal(t, route, tcpRoute(tcpView(route)))
}
