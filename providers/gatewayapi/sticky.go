package gatewayapi

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// Session affinity takes two parts of the route. The canary's backendRef in Tranche's rule
// marks the clients it serves: a ResponseHeaderModifier filter adds the affinity cookie to
// its responses (the filter is Tranche's when it adds exactly one Set-Cookie header that
// traffic.ParseSetCookie reads). The sticky rule sends the requests that carry the cookie
// to the canary, whatever the weights.

// setCookieFilter adds, changes or (for nil) removes the cookie filter of the canary's
// backendRef in rule.
func setCookieFilter(rule *gatewayv1.HTTPRouteRule, t target, s *traffic.Sticky, value string) {
	j := refIndex(rule.BackendRefs, t.namespace, t.canary)
	if j < 0 {
		return
	}
	ref := &rule.BackendRefs[j]
	i := slices.IndexFunc(ref.Filters, isCookieFilter)
	if s == nil {
		if i >= 0 {
			ref.Filters = slices.Delete(ref.Filters, i, i+1)
		}
		if len(ref.Filters) == 0 {
			ref.Filters = nil
		}
		return
	}
	filter := gatewayv1.HTTPRouteFilter{
		Type: gatewayv1.HTTPRouteFilterResponseHeaderModifier,
		ResponseHeaderModifier: &gatewayv1.HTTPHeaderFilter{
			Add: []gatewayv1.HTTPHeader{{Name: setCookieHeader, Value: s.SetCookie(value)}},
		},
	}
	if i >= 0 {
		ref.Filters[i] = filter
		return
	}
	ref.Filters = append(ref.Filters, filter)
}

const setCookieHeader = "Set-Cookie"

func isCookieFilter(f gatewayv1.HTTPRouteFilter) bool {
	_, _, ok := cookieOf(f)
	return ok
}

// cookieOf reads the affinity and the cookie's value from Tranche's cookie filter.
func cookieOf(f gatewayv1.HTTPRouteFilter) (traffic.Sticky, string, bool) {
	m := f.ResponseHeaderModifier
	if f.Type != gatewayv1.HTTPRouteFilterResponseHeaderModifier || m == nil ||
		len(m.Add) != 1 || len(m.Set) != 0 || len(m.Remove) != 0 || !strings.EqualFold(string(m.Add[0].Name), setCookieHeader) {
		return traffic.Sticky{}, "", false
	}
	return traffic.ParseSetCookie(m.Add[0].Value)
}

// stickyMatch is what the sticky rule matches: nothing without affinity.
func stickyMatch(s *traffic.Sticky, value string) []trancheapi.HTTPMatch {
	if s == nil {
		return nil
	}
	return []trancheapi.HTTPMatch{s.StickyMatch(value)}
}

// readSticky reads the affinity back: the cookie filter and the sticky rule that matches its
// cookie, both with this rollout's value. It is nil when either is missing or has another
// value, so that SetRoutes writes them again.
func readSticky(route *gatewayv1.HTTPRoute, main int, t target, value string) *traffic.Sticky {
	rule := route.Spec.Rules[main]
	j := refIndex(rule.BackendRefs, t.namespace, t.canary)
	if j < 0 {
		return nil
	}
	i := slices.IndexFunc(rule.BackendRefs[j].Filters, isCookieFilter)
	if i < 0 {
		return nil
	}
	s, v, _ := cookieOf(rule.BackendRefs[j].Filters[i])
	if v != value || !equality.Semantic.DeepEqual(canaryMatch(route, stickyRuleName, main), stickyMatch(&s, value)) {
		return nil
	}
	return &s
}
