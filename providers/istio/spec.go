package istio

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// The names of the HTTP routes Tranche owns in the VirtualService.
const (
	splitRoute  = "tranche"
	matchRoute  = "tranche-match"
	stickyRoute = "tranche-sticky" // requests from clients the canary marked with the affinity cookie
	// clustersRoute names both versions while the split gives one of them nothing (see
	// clustersOf).
	clustersRoute = "tranche-clusters"
)

// ownedPolicies are the parts of a DestinationRule's traffic policy the Rollout's spec says;
// the rest of the DestinationRule (a load balancer, exportTo) is the user's and is kept.
var ownedPolicies = []string{"tls", "outlierDetection", "connectionPool"}

// setDestinationRule sets a DestinationRule's host and the owned parts of its traffic policy.
// The rest of the policy is the user's: of the wrong type, it is theirs to fix.
func setDestinationRule(u *unstructured.Unstructured, ro *trancheapi.Rollout, host string) error {
	policy, _, err := providers.Fields(u).Get("spec", "trafficPolicy").AsMap()
	if err != nil {
		return providers.Malformed(err)
	}
	if err := unstructured.SetNestedField(u.Object, host, "spec", "host"); err != nil {
		return err
	}
	if policy == nil {
		policy = map[string]any{}
	}
	for _, owned := range ownedPolicies {
		delete(policy, owned)
	}
	if p := ro.Spec.Provider.Istio; p != nil && p.TrafficPolicy != nil {
		for k, v := range trafficPolicy(p.TrafficPolicy) {
			policy[k] = v
		}
	}
	if len(policy) == 0 {
		unstructured.RemoveNestedField(u.Object, "spec", "trafficPolicy")
		return nil
	}
	return unstructured.SetNestedMap(u.Object, policy, "spec", "trafficPolicy")
}

// trafficPolicy writes the API's traffic policy in Istio's field names.
func trafficPolicy(p *trancheapi.IstioTrafficPolicy) map[string]any {
	out := map[string]any{}
	if p.TLS != nil {
		out["tls"] = map[string]any{"mode": p.TLS.Mode}
	}
	if o := p.OutlierDetection; o != nil {
		od := map[string]any{}
		setInt(od, "consecutive5xxErrors", o.Consecutive5xxErrors)
		setInt(od, "maxEjectionPercent", o.MaxEjectionPercent)
		if o.Interval != nil {
			od["interval"] = o.Interval.Duration.String()
		}
		if o.BaseEjectionTime != nil {
			od["baseEjectionTime"] = o.BaseEjectionTime.Duration.String()
		}
		out["outlierDetection"] = od
	}
	if c := p.ConnectionPool; c != nil {
		tcp, http := map[string]any{}, map[string]any{}
		setInt(tcp, "maxConnections", c.MaxConnections)
		setInt(http, "http1MaxPendingRequests", c.HTTP1MaxPendingRequests)
		setInt(http, "http2MaxRequests", c.HTTP2MaxRequests)
		setInt(http, "maxRequestsPerConnection", c.MaxRequestsPerConnection)
		pool := map[string]any{}
		if len(tcp) > 0 {
			pool["tcp"] = tcp
		}
		if len(http) > 0 {
			pool["http"] = http
		}
		out["connectionPool"] = pool
	}
	return out
}

func setInt(m map[string]any, key string, v *int32) {
	if v != nil {
		m[key] = int64(*v)
	}
}

// setVirtualService writes the hosts, gateways and Tranche's routes; the user's routes
// keep their places, and Tranche's go after them the first time.
func setVirtualService(vs *unstructured.Unstructured, ro *trancheapi.Rollout, routes traffic.Routes) error {
	p := ro.Spec.Provider.Istio
	if p == nil {
		return fmt.Errorf("the Rollout %s/%s has no spec.provider.istio", ro.Namespace, ro.Name)
	}
	http, err := httpRoutes(vs)
	if err != nil {
		return err
	}
	if err := setHosts(vs, ro, p); err != nil {
		return err
	}
	split, match, sticky, err := trancheRoutes(ro, routes)
	if err != nil {
		return err
	}
	for _, route := range []map[string]any{split, match, sticky} {
		if route != nil {
			setRouteOptions(route, p)
		}
	}
	http = placeRoute(http, clustersRoute, clustersOf(ro, routes), splitRoute)
	http = placeRoute(http, matchRoute, match, splitRoute)
	http = placeRoute(http, stickyRoute, sticky, splitRoute)
	http = placeRoute(http, splitRoute, split, "")
	out := make([]any, len(http))
	for i, r := range http {
		out[i] = r.value
	}
	return unstructured.SetNestedSlice(vs.Object, runtime.DeepCopyJSONValue(out).([]any), "spec", "http")
}

// setHosts writes the hosts the VirtualService serves (the apex Service unless the spec names
// others) and the gateways it is bound to.
func setHosts(vs *unstructured.Unstructured, ro *trancheapi.Rollout, p *trancheapi.IstioProvider) error {
	hosts := []any{ro.ServiceNames().Apex}
	if len(p.Hosts) > 0 {
		hosts = toAny(p.Hosts)
	}
	if err := unstructured.SetNestedSlice(vs.Object, hosts, "spec", "hosts"); err != nil {
		return err
	}
	if len(p.Gateways) > 0 {
		return unstructured.SetNestedSlice(vs.Object, toAny(p.Gateways), "spec", "gateways")
	}
	unstructured.RemoveNestedField(vs.Object, "spec", "gateways")
	return nil
}

// trancheRoutes builds Tranche's HTTP routes for a split: the weighted split (with the
// mirror), and when asked the A/B match route and the sticky route; nil for those not asked.
func trancheRoutes(ro *trancheapi.Rollout, routes traffic.Routes) (split, match, sticky map[string]any, err error) {
	names, port := ro.ServiceNames(), int64(ro.Spec.Service.Port)
	destination := func(host string) map[string]any { return destinationOf(host, port) }
	primaryWeight, canaryWeight := providers.Split(routes.CanaryWeight)
	canary := map[string]any{"destination": destination(names.Canary), "weight": int64(canaryWeight)}
	split = map[string]any{
		"name":  splitRoute,
		"route": []any{map[string]any{"destination": destination(names.Primary), "weight": int64(primaryWeight)}, canary},
	}
	if routes.MirrorPercent > 0 {
		split["mirror"] = destination(names.Canary)
		split["mirrorPercentage"] = map[string]any{"value": float64(routes.MirrorPercent)}
	}
	if len(routes.Match) > 0 {
		requests, err := matchRequests(routes.Match)
		if err != nil {
			return nil, nil, nil, err
		}
		match = map[string]any{"name": matchRoute, "match": requests, "route": []any{map[string]any{"destination": destination(names.Canary)}}}
	}
	if s := routes.Sticky; s != nil {
		value := providers.StickyValue(ro)
		marks := map[string]any{"response": map[string]any{"add": map[string]any{setCookieHeader: s.SetCookie(value)}}}
		canary["headers"] = marks
		requests, err := matchRequests([]trancheapi.HTTPMatch{s.StickyMatch(value)})
		if err != nil {
			return nil, nil, nil, err
		}
		sticky = map[string]any{
			"name":  stickyRoute,
			"match": requests,
			"route": []any{map[string]any{"destination": destination(names.Canary), "headers": runtime.DeepCopyJSONValue(marks)}},
		}
	}
	return split, match, sticky, nil
}

// clustersOf is a route that no request takes (no path is empty) naming the primary and the
// canary, while the split gives one of them no weight; nil otherwise. istiod leaves a
// destination of weight 0 out of the routes it sends, and a proxyless gRPC client then drops
// that version's cluster: the split that gives it traffic again (a promotion from 100% canary,
// a rollback from it) would reach the client before the cluster it names, and a call in between
// fails ("unknown cluster selected for RPC"). Named in a route of their own, both clusters stay.
func clustersOf(ro *trancheapi.Rollout, routes traffic.Routes) map[string]any {
	if routes.CanaryWeight != 0 && routes.CanaryWeight != 100 {
		return nil
	}
	names, port := ro.ServiceNames(), int64(ro.Spec.Service.Port)
	half := func(host string) map[string]any {
		return map[string]any{"destination": destinationOf(host, port), "weight": int64(50)}
	}
	return map[string]any{
		"name":  clustersRoute,
		"match": []any{map[string]any{"uri": map[string]any{"regex": "^$"}}},
		"route": []any{half(names.Primary), half(names.Canary)},
	}
}

// destinationOf is a route's destination: a Service (by host) and its port.
func destinationOf(host string, port int64) map[string]any {
	return map[string]any{"host": host, "port": map[string]any{"number": port}}
}

// setRouteOptions gives one of Tranche's routes the retries and the timeout of the spec.
func setRouteOptions(route map[string]any, p *trancheapi.IstioProvider) {
	if p.Retries != nil {
		retries := map[string]any{"attempts": int64(p.Retries.Attempts)}
		if p.Retries.PerTryTimeout != nil {
			retries["perTryTimeout"] = p.Retries.PerTryTimeout.Duration.String()
		}
		if p.Retries.RetryOn != "" {
			retries["retryOn"] = p.Retries.RetryOn
		}
		route["retries"] = retries
	}
	if p.Timeout != nil {
		route["timeout"] = p.Timeout.Duration.String()
	}
}

// httpRoute is one of the VirtualService's HTTP routes, the user's or Tranche's, by name.
type httpRoute struct {
	name  string
	value any
	field providers.Field
}

// httpRoutes reads spec.http. Tranche writes its own routes whole, so a route whose shape
// is wrong (not an object, a name that is not a string) is a user's, which Tranche keeps and
// cannot repair.
func httpRoutes(vs *unstructured.Unstructured) ([]httpRoute, error) {
	http, _, err := providers.Fields(vs).Get("spec", "http").AsList()
	if err != nil {
		return nil, providers.Malformed(err)
	}
	out := make([]httpRoute, len(http))
	for i, r := range http {
		name, _, err := r.Get("name").AsString()
		if err != nil {
			return nil, providers.Malformed(err)
		}
		out[i] = httpRoute{name: name, value: r.Value(), field: r}
	}
	return out, nil
}

// placeRoute replaces the route named name with route (removing it when route is nil), or
// adds it before the route named before (or at the end).
func placeRoute(http []httpRoute, name string, route map[string]any, before string) []httpRoute {
	var out []httpRoute
	placed := false
	place := func() {
		if route != nil && !placed {
			out = append(out, httpRoute{name: name, value: route})
			placed = true
		}
	}
	for _, r := range http {
		switch {
		case r.name == name:
			place()
			continue
		case r.name == before && before != "":
			place()
		}
		out = append(out, r)
	}
	place()
	return out
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// routesOf reads the split from Tranche's routes of the VirtualService. Those routes are
// Tranche's: a field of theirs of the wrong type is unreadable, and SetRoutes writes them
// again.
func routesOf(vs *unstructured.Unstructured, ro *trancheapi.Rollout) (traffic.Routes, error) {
	names := ro.ServiceNames()
	http, err := httpRoutes(vs)
	if err != nil {
		return traffic.Routes{}, err
	}
	var split, match, sticky *providers.Field
	for i, r := range http {
		switch r.name {
		case splitRoute:
			split = &http[i].field
		case matchRoute:
			match = &http[i].field
		case stickyRoute:
			sticky = &http[i].field
		}
	}
	if split == nil {
		return traffic.Routes{}, unreadable(vs, "it has no route named "+splitRoute)
	}
	weights, setCookie, err := destinations(*split, names.Canary)
	if err != nil {
		return traffic.Routes{}, providers.Unreadable(err)
	}
	if len(weights) != 2 || weights[names.Primary]+weights[names.Canary] != 100 {
		return traffic.Routes{}, unreadable(vs, "its split is not the primary and the canary adding up to 100")
	}
	routes := traffic.Routes{CanaryWeight: int32(weights[names.Canary])}
	if split.Get("mirror").Found() {
		routes.MirrorPercent = 100 // Istio mirrors everything when no percentage is given
		percent, found, err := split.Get("mirrorPercentage", "value").AsFloat()
		if err != nil {
			return traffic.Routes{}, providers.Unreadable(err)
		}
		if found {
			routes.MirrorPercent = int32(percent)
		}
	}
	if match != nil {
		if routes.Match, err = matchOf(*match); err != nil {
			return traffic.Routes{}, providers.Unreadable(err)
		}
	}
	if routes.Sticky, err = stickyOf(sticky, setCookie, providers.StickyValue(ro)); err != nil {
		return traffic.Routes{}, providers.Unreadable(err)
	}
	return routes, nil
}

// destinations reads the weight of each host of the split route, and the Set-Cookie header
// the canary's destination adds to its responses.
func destinations(split providers.Field, canary string) (weights map[string]int64, setCookie string, err error) {
	route, _, err := split.Get("route").AsList()
	if err != nil {
		return nil, "", err
	}
	weights = map[string]int64{}
	for _, d := range route {
		host, _, err := d.Get("destination", "host").AsString()
		if err != nil {
			return nil, "", err
		}
		w, _, err := d.Get("weight").AsInt()
		if err != nil {
			return nil, "", err
		}
		weights[host] += w
		if host == canary {
			if setCookie, _, err = d.Get("headers", "response", "add", setCookieHeader).AsString(); err != nil {
				return nil, "", err
			}
		}
	}
	return weights, setCookie, nil
}

// matchOf reads back what one of Tranche's routes matches.
func matchOf(route providers.Field) ([]trancheapi.HTTPMatch, error) {
	requests, _, err := route.Get("match").AsList()
	if err != nil {
		return nil, err
	}
	return decodeMatchRequests(requests)
}

const setCookieHeader = "Set-Cookie"

// stickyOf reads the affinity back from the sticky route and the cookie the canary's
// destination sets: nil unless both are there with this rollout's value.
func stickyOf(route *providers.Field, setCookie, value string) (*traffic.Sticky, error) {
	s, v, ok := traffic.ParseSetCookie(setCookie)
	if route == nil || !ok || v != value {
		return nil, nil
	}
	decoded, err := matchOf(*route)
	if err != nil {
		return nil, err
	}
	if !equality.Semantic.DeepEqual(decoded, []trancheapi.HTTPMatch{s.StickyMatch(value)}) {
		return nil, nil
	}
	return &s, nil
}

func unreadable(vs *unstructured.Unstructured, why string) error {
	return providers.Unreadable(providers.Fields(vs).Invalid(why))
}
