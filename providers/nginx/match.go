package nginx

import (
	"fmt"
	"strconv"

	networkingv1 "k8s.io/api/networking/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// check refuses what ingress-nginx cannot do.
func check(routes traffic.Routes) error {
	if err := routes.Validate(); err != nil {
		return err
	}
	if routes.MirrorPercent > 0 {
		return fmt.Errorf("ingress-nginx's canary cannot mirror requests: use the gatewayAPI, istio or traefik provider: %w", providers.ErrUnsupported)
	}
	_, _, err := conditionsOf(routes.Match)
	return err
}

// conditionsOf reads A/B matches as ingress-nginx's two canary conditions: one header,
// exact or by regular expression, and one cookie whose value is "always". Each match must be
// one of these alone, as ingress-nginx sends a request to the canary when either holds.
func conditionsOf(matches []trancheapi.HTTPMatch) (header, cookie *trancheapi.StringMatch, err error) {
	unsupported := func(why string) error {
		return fmt.Errorf("ingress-nginx matches one header (exact or regular expression) and one cookie valued %q, each alone: %s: %w", cookieAlways, why, providers.ErrUnsupported)
	}
	for _, m := range matches {
		switch {
		case m.GRPCMethod != nil:
			return nil, nil, unsupported("it cannot match a gRPC method")
		case len(m.QueryParams) > 0:
			return nil, nil, unsupported("it cannot match query parameters")
		case len(m.Headers)+len(m.Cookies) != 1:
			return nil, nil, unsupported("a match with several conditions needs them all, which it cannot express")
		case len(m.Headers) == 1 && header != nil, len(m.Cookies) == 1 && cookie != nil:
			return nil, nil, unsupported("a second header or cookie")
		case len(m.Headers) == 1:
			h := m.Headers[0]
			if h.Type == trancheapi.MatchPrefix {
				return nil, nil, unsupported("a header prefix (write it as a RegularExpression)")
			}
			header = &h
		default:
			c := m.Cookies[0]
			if c.Value != cookieAlways || (c.Type != "" && c.Type != trancheapi.MatchExact) {
				return nil, nil, unsupported(fmt.Sprintf("cookie %s must be matched exactly with the value %q", c.Name, cookieAlways))
			}
			cookie = &c
		}
	}
	return header, cookie, nil
}

// routesOf reads the canary annotations back: the matches (the header's, then the cookie's),
// else the weight.
func routesOf(ing *networkingv1.Ingress) (traffic.Routes, error) {
	a := ing.Annotations
	if a[canary] != "true" {
		return traffic.Routes{}, unreadable(ing, "it is not marked as a canary")
	}
	var match []trancheapi.HTTPMatch
	if name := a[canaryHeader]; name != "" {
		h := trancheapi.StringMatch{Name: name, Value: a[canaryHeaderValue], Type: trancheapi.MatchExact}
		if pattern, ok := a[canaryHeaderRegexp]; ok {
			h.Value, h.Type = pattern, trancheapi.MatchRegularExpression
		}
		match = append(match, trancheapi.HTTPMatch{Headers: []trancheapi.StringMatch{h}})
	}
	if name := a[canaryCookie]; name != "" {
		match = append(match, trancheapi.HTTPMatch{Cookies: []trancheapi.StringMatch{{Name: name, Value: cookieAlways, Type: trancheapi.MatchExact}}})
	}
	if len(match) > 0 {
		return traffic.Routes{Match: match}, nil
	}
	weight, err := strconv.Atoi(a[canaryWeight])
	if err != nil || weight < 0 || weight > 100 || (a[canaryWeightTotal] != "" && a[canaryWeightTotal] != "100") {
		return traffic.Routes{}, unreadable(ing, "its canary weight is not a percent")
	}
	return traffic.Routes{CanaryWeight: int32(weight), Sticky: affinityOf(a)}, nil
}

func unreadable(ing *networkingv1.Ingress, why string) error {
	return fmt.Errorf("Ingress %s/%s: %s: %w", ing.Namespace, ing.Name, why, providers.ErrUnreadable)
}

// ingress-nginx counts requests by Ingress: the canary Ingress's are the canary's.
const canarySeries = `namespace="{{ .Namespace }}", ingress="{{ .Rollout }}-canary"`

// requestMetrics are ingress-nginx's metrics, which measure seconds.
var requestMetrics = providers.RequestMetrics{
	Requests: "nginx_ingress_controller_requests", Canary: canarySeries, Succeeded: `status!~"5.."`,
	DurationBuckets: "nginx_ingress_controller_request_duration_seconds_bucket", DurationInSeconds: true,
}

// RequestMetrics are the data plane's request metrics.
func (r *Router) RequestMetrics() []providers.RequestMetrics {
	return []providers.RequestMetrics{requestMetrics}
}

// Features says what ingress-nginx's canary can do.
func (r *Router) Features() providers.Features {
	return providers.Features{AnyWeight: true, Match: `one header, one cookie valued "always"`, Sticky: true, Metrics: "ingress-nginx"}
}
