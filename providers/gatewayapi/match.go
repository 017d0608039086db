package gatewayapi

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

// Tranche's canary rules send some requests to the canary whatever the weights: the match
// rule those of an A/B step, the sticky rule those of clients the canary has marked with the
// affinity cookie. Tranche finds them by name (rule names are unique within a route), because
// their shape alone could be a user's rule sending some requests to the canary on purpose.
const (
	matchRuleName  gatewayv1.SectionName = "tranche-canary-match"
	stickyRuleName gatewayv1.SectionName = "tranche-canary-sticky"
)

func isCanaryRule(rule gatewayv1.HTTPRouteRule) bool {
	return rule.Name != nil && (*rule.Name == matchRuleName || *rule.Name == stickyRuleName)
}

func ruleIndex(route *gatewayv1.HTTPRoute, name gatewayv1.SectionName) int {
	return slices.IndexFunc(route.Spec.Rules, func(rule gatewayv1.HTTPRouteRule) bool {
		return rule.Name != nil && *rule.Name == name
	})
}

// setCanaryRule writes the canary rule name for match, or removes it when match is empty. A
// new rule goes just before Tranche's rule (index main), so that where Gateway API's
// precedence ties, list order makes it win.
func setCanaryRule(route *gatewayv1.HTTPRoute, name gatewayv1.SectionName, main int, t target, match []trancheapi.HTTPMatch) error {
	i := ruleIndex(route, name)
	if len(match) == 0 {
		if i >= 0 {
			route.Spec.Rules = slices.Delete(route.Spec.Rules, i, i+1)
		}
		return nil
	}
	rule, err := canaryRule(route.Spec.Rules[main], t, match)
	if err != nil {
		return err
	}
	rule.Name = ptr.To(name)
	if i >= 0 {
		route.Spec.Rules[i] = rule
		return nil
	}
	route.Spec.Rules = slices.Insert(route.Spec.Rules, main, rule)
	return nil
}

// refreshCanaryRules rewrites the canary rules that exist from Tranche's rule as it is now,
// each keeping what it matches, so that a user's edit of Tranche's rule reaches the requests
// they send to the canary too.
func refreshCanaryRules(route *gatewayv1.HTTPRoute, t target) error {
	for _, name := range []gatewayv1.SectionName{matchRuleName, stickyRuleName} {
		main := tranchesRule(route, t)
		if i := ruleIndex(route, name); i >= 0 {
			match := decodeMatches(route.Spec.Rules[i], baseMatches(route.Spec.Rules[main]))
			if err := setCanaryRule(route, name, main, t, match); err != nil {
				return err
			}
		}
	}
	return nil
}

// canaryMatch reads back what the canary rule name matches; nil when there is no such rule.
func canaryMatch(route *gatewayv1.HTTPRoute, name gatewayv1.SectionName, main int) []trancheapi.HTTPMatch {
	if i := ruleIndex(route, name); i >= 0 {
		return decodeMatches(route.Spec.Rules[i], baseMatches(route.Spec.Rules[main]))
	}
	return nil
}

// canaryRule derives a canary rule, without its name, from Tranche's rule. Each of the rule's matches (its path
// and method) is combined with each requested match, so the canary rule serves the same
// requests as Tranche's rule, narrowed by the request's headers and query parameters (and,
// in a GRPCRoute whose rule matches every method, by the call's method); having
// more header or query conditions on the same path, it takes precedence. Matching requests
// get the same treatment as the others (the rule's filters, timeouts, retries, the canary
// backendRef's own filters) so that the canary is judged on the traffic it will serve.
func canaryRule(main gatewayv1.HTTPRouteRule, t target, match []trancheapi.HTTPMatch) (gatewayv1.HTTPRouteRule, error) {
	var matches []gatewayv1.HTTPRouteMatch
	for _, m := range match {
		headers, err := headerMatches(m)
		if err != nil {
			return gatewayv1.HTTPRouteRule{}, err
		}
		queryParams := queryParamMatches(m.QueryParams)
		for _, base := range baseMatches(main) {
			combined := *base.DeepCopy()
			combined.Headers = append(combined.Headers, headers...)
			combined.QueryParams = append(combined.QueryParams, queryParams...)
			if m.GRPCMethod != nil {
				if !t.kind.grpc || methodOfPath(base.Path) != nil {
					return gatewayv1.HTTPRouteRule{}, fmt.Errorf("a grpcMethod match narrows a GRPCRoute's rule that matches no method itself: %w", providers.ErrUnsupported)
				}
				combined.Path = methodPath(gatewayMethod(*m.GRPCMethod))
			}
			matches = append(matches, combined)
		}
	}
	canary := weighted(serviceRef(t.canary, t.port), 100)
	if j := refIndex(main.BackendRefs, t.namespace, t.canary); j >= 0 {
		canary = *main.BackendRefs[j].DeepCopy()
		canary.Weight = ptr.To[int32](100)
	}
	var filters []gatewayv1.HTTPRouteFilter
	mirror := mirrorIndex(main, t)
	for j, f := range main.Filters {
		if j != mirror {
			filters = append(filters, *f.DeepCopy())
		}
	}
	return gatewayv1.HTTPRouteRule{
		Matches:            matches,
		Filters:            filters,
		BackendRefs:        []gatewayv1.HTTPBackendRef{canary},
		Timeouts:           main.Timeouts.DeepCopy(),
		Retry:              main.Retry.DeepCopy(),
		SessionPersistence: main.SessionPersistence.DeepCopy(),
	}, nil
}

func baseMatches(rule gatewayv1.HTTPRouteRule) []gatewayv1.HTTPRouteMatch {
	if len(rule.Matches) == 0 {
		return []gatewayv1.HTTPRouteMatch{defaultMatch()}
	}
	return rule.Matches
}

// Gateway API has only Exact and RegularExpression comparisons, and no cookies: the others are
// written as regular expressions in the encoding of the providers package (see
// providers.ValueRegex and providers.CookieRegex), which reads back exactly.

// headerMatches encodes a match's headers and cookie. Gateway API matches each header name
// once per match, and the cookie is matched through the one Cookie header, so a match can
// hold one cookie and no Cookie header of its own.
func headerMatches(m trancheapi.HTTPMatch) ([]gatewayv1.HTTPHeaderMatch, error) {
	if len(m.Cookies) > 1 {
		return nil, fmt.Errorf("the gatewayAPI provider matches at most one cookie per match (Gateway API matches the Cookie header once): %w",
			providers.ErrUnsupported)
	}
	var out []gatewayv1.HTTPHeaderMatch
	for _, h := range m.Headers {
		if len(m.Cookies) > 0 && strings.EqualFold(h.Name, providers.CookieHeader) {
			return nil, fmt.Errorf("the gatewayAPI provider cannot match a cookie and the Cookie header in one match: %w", providers.ErrUnsupported)
		}
		typ, value := encodeValue(h)
		out = append(out, gatewayv1.HTTPHeaderMatch{Type: ptr.To(gatewayv1.HeaderMatchType(typ)), Name: gatewayv1.HTTPHeaderName(h.Name), Value: value})
	}
	for _, c := range m.Cookies {
		out = append(out, gatewayv1.HTTPHeaderMatch{
			Type:  ptr.To(gatewayv1.HeaderMatchRegularExpression),
			Name:  providers.CookieHeader,
			Value: providers.CookieRegex(c),
		})
	}
	return out, nil
}

func queryParamMatches(params []trancheapi.StringMatch) []gatewayv1.HTTPQueryParamMatch {
	var out []gatewayv1.HTTPQueryParamMatch
	for _, q := range params {
		typ, value := encodeValue(q)
		out = append(out, gatewayv1.HTTPQueryParamMatch{Type: ptr.To(gatewayv1.QueryParamMatchType(typ)), Name: gatewayv1.HTTPHeaderName(q.Name), Value: value})
	}
	return out
}

// encodeValue returns the Gateway API match type (Exact or RegularExpression) and value.
func encodeValue(s trancheapi.StringMatch) (string, string) {
	if regex, ok := providers.ValueRegex(s); ok {
		return "RegularExpression", regex
	}
	return "Exact", s.Value
}

// decodeMatches reads the API's matches back from the match rule, given the matches of
// Tranche's rule it was combined with. If Tranche's rule changed since (its matches no longer
// divide the match rule's), every match rule entry is read as one match: Reconcile and
// SetRoutes rewrite the rule from Tranche's rule as it is now.
func decodeMatches(rule gatewayv1.HTTPRouteRule, bases []gatewayv1.HTTPRouteMatch) []trancheapi.HTTPMatch {
	step, base := len(bases), bases[0]
	if len(rule.Matches)%step != 0 {
		step, base = 1, gatewayv1.HTTPRouteMatch{}
	}
	var out []trancheapi.HTTPMatch
	for k := 0; k < len(rule.Matches); k += step {
		m := rule.Matches[k]
		match := decodeMatch(trimPrefix(m.Headers, base.Headers), trimPrefix(m.QueryParams, base.QueryParams))
		if methodOfPath(base.Path) == nil {
			match.GRPCMethod = apiMethod(methodOfPath(m.Path))
		}
		out = append(out, match)
	}
	return out
}

func trimPrefix[T any](s, prefix []T) []T {
	if len(prefix) <= len(s) && equality.Semantic.DeepEqual(s[:len(prefix)], prefix) {
		return s[len(prefix):]
	}
	return s
}

func decodeMatch(headers []gatewayv1.HTTPHeaderMatch, queryParams []gatewayv1.HTTPQueryParamMatch) trancheapi.HTTPMatch {
	var m trancheapi.HTTPMatch
	for _, h := range headers {
		regex := ptr.Deref(h.Type, gatewayv1.HeaderMatchExact) == gatewayv1.HeaderMatchRegularExpression
		if regex && strings.EqualFold(string(h.Name), providers.CookieHeader) {
			if cookie, ok := providers.CookieFromRegex(h.Value); ok {
				m.Cookies = append(m.Cookies, cookie)
				continue
			}
		}
		m.Headers = append(m.Headers, decodeValue(string(h.Name), regex, h.Value))
	}
	for _, q := range queryParams {
		regex := ptr.Deref(q.Type, gatewayv1.QueryParamMatchExact) == gatewayv1.QueryParamMatchRegularExpression
		m.QueryParams = append(m.QueryParams, decodeValue(string(q.Name), regex, q.Value))
	}
	return m
}

// decodeValue inverts encodeValue.
func decodeValue(name string, regex bool, value string) trancheapi.StringMatch {
	if !regex {
		return trancheapi.StringMatch{Name: name, Value: value, Type: trancheapi.MatchExact}
	}
	return providers.ValueFromRegex(name, value)
}
