package istio

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

// The names of the HTTP routes Tranche owns in the VirtualService.
const (
	splitRoute  = "tranche"
	matchRoute  = "tranche-match"
	stickyRoute = "tranche-sticky" // requests from clients the canary marked with the affinity cookie
)

// ownedPolicies are the parts of a DestinationRule's traffic policy the Rollout's spec says;
// the rest of the DestinationRule (a load balancer, exportTo) is the user's and is kept.
var ownedPolicies = []string{"tls", "outlierDetection", "connectionPool"}

// setDestinationRule sets a DestinationRule's host and the owned parts of its traffic policy.
func setDestinationRule(u *unstructured.Unstructured, ro *trancheapi.Rollout, host string) error {
	if err := unstructured.SetNestedField(u.Object, host, "spec", "host"); err != nil {
		return err
	}
	policy, _, _ := unstructured.NestedMap(u.Object, "spec", "trafficPolicy")
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

// setVirtualService writes the hosts, gateways and Tranche's two routes; the user's routes
// keep their places, and Tranche's go after them the first time.
func setVirtualService(vs *unstructured.Unstructured, ro *trancheapi.Rollout, routes providers.Routes) error {
	names, port := ro.ServiceNames(), int64(ro.Spec.Service.Port)
	p := ro.Spec.Provider.Istio
	if p == nil {
		return fmt.Errorf("the Rollout %s/%s has no spec.provider.istio", ro.Namespace, ro.Name)
	}
	hosts := []any{names.Apex}
	if len(p.Hosts) > 0 {
		hosts = toAny(p.Hosts)
	}
	if err := unstructured.SetNestedSlice(vs.Object, hosts, "spec", "hosts"); err != nil {
		return err
	}
	if len(p.Gateways) > 0 {
		_ = unstructured.SetNestedSlice(vs.Object, toAny(p.Gateways), "spec", "gateways")
	} else {
		unstructured.RemoveNestedField(vs.Object, "spec", "gateways")
	}

	destination := func(host string) map[string]any {
		return map[string]any{"host": host, "port": map[string]any{"number": port}}
	}
	primaryWeight, canaryWeight := providers.Split(routes.CanaryWeight)
	canary := map[string]any{"destination": destination(names.Canary), "weight": int64(canaryWeight)}
	split := map[string]any{
		"name":  splitRoute,
		"route": []any{map[string]any{"destination": destination(names.Primary), "weight": int64(primaryWeight)}, canary},
	}
	if routes.MirrorPercent > 0 {
		split["mirror"] = destination(names.Canary)
		split["mirrorPercentage"] = map[string]any{"value": float64(routes.MirrorPercent)}
	}
	var match map[string]any
	if len(routes.Match) > 0 {
		requests, err := matchRequests(routes.Match)
		if err != nil {
			return err
		}
		match = map[string]any{
			"name":  matchRoute,
			"match": requests,
			"route": []any{map[string]any{"destination": destination(names.Canary)}},
		}
	}
	var sticky map[string]any
	if s := routes.Sticky; s != nil {
		value := providers.StickyValue(ro)
		marks := map[string]any{"response": map[string]any{"add": map[string]any{setCookieHeader: s.SetCookie(value)}}}
		canary["headers"] = marks
		requests, err := matchRequests([]trancheapi.HTTPMatch{s.StickyMatch(value)})
		if err != nil {
			return err
		}
		sticky = map[string]any{
			"name":  stickyRoute,
			"match": requests,
			"route": []any{map[string]any{"destination": destination(names.Canary), "headers": runtime.DeepCopyJSONValue(marks)}},
		}
	}
	for _, route := range []map[string]any{split, match, sticky} {
		if route == nil {
			continue
		}
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
	http, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	http = placeRoute(http, matchRoute, match, splitRoute)
	http = placeRoute(http, stickyRoute, sticky, splitRoute)
	http = placeRoute(http, splitRoute, split, "")
	return unstructured.SetNestedSlice(vs.Object, runtime.DeepCopyJSONValue(http).([]any), "spec", "http")
}

// placeRoute replaces the route named name with route (removing it when route is nil), or
// adds it before the route named before (or at the end).
func placeRoute(http []any, name string, route map[string]any, before string) []any {
	var out []any
	placed := false
	for _, r := range http {
		m, _ := r.(map[string]any)
		switch m["name"] {
		case name:
			if route != nil && !placed {
				out = append(out, route)
				placed = true
			}
			continue
		case before:
			if route != nil && !placed && before != "" {
				out = append(out, route)
				placed = true
			}
		}
		out = append(out, r)
	}
	if route != nil && !placed {
		out = append(out, route)
	}
	return out
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// routesOf reads the split from Tranche's routes of the VirtualService.
func routesOf(vs *unstructured.Unstructured, ro *trancheapi.Rollout) (providers.Routes, error) {
	names := ro.ServiceNames()
	http, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	var split, match, sticky map[string]any
	for _, r := range http {
		m, _ := r.(map[string]any)
		switch m["name"] {
		case splitRoute:
			split = m
		case matchRoute:
			match = m
		case stickyRoute:
			sticky = m
		}
	}
	if split == nil {
		return providers.Routes{}, unreadable(vs, "it has no route named "+splitRoute)
	}
	weights, setCookie := map[string]int64{}, ""
	destinations, _, _ := unstructured.NestedSlice(split, "route")
	for _, d := range destinations {
		dm, _ := d.(map[string]any)
		host, _, _ := unstructured.NestedString(dm, "destination", "host")
		w, _, _ := unstructured.NestedInt64(dm, "weight")
		weights[host] += w
		if host == names.Canary {
			setCookie, _, _ = unstructured.NestedString(dm, "headers", "response", "add", setCookieHeader)
		}
	}
	if len(weights) != 2 || weights[names.Primary]+weights[names.Canary] != 100 {
		return providers.Routes{}, unreadable(vs, "its split is not the primary and the canary adding up to 100")
	}
	routes := providers.Routes{CanaryWeight: int32(weights[names.Canary])}
	if _, mirrored := split["mirror"]; mirrored {
		routes.MirrorPercent = 100 // Istio mirrors everything when no percentage is given
		value, _, _ := unstructured.NestedFieldNoCopy(split, "mirrorPercentage", "value")
		switch v := value.(type) { // a whole number reads back as an integer
		case int64:
			routes.MirrorPercent = int32(v)
		case float64:
			routes.MirrorPercent = int32(v)
		}
	}
	if match != nil {
		requests, _, _ := unstructured.NestedSlice(match, "match")
		decoded, err := decodeMatchRequests(requests)
		if err != nil {
			return providers.Routes{}, unreadable(vs, err.Error())
		}
		routes.Match = decoded
	}
	routes.Sticky = stickyOf(sticky, setCookie, providers.StickyValue(ro))
	return routes, nil
}

const setCookieHeader = "Set-Cookie"

// stickyOf reads the affinity back from the sticky route and the cookie the canary's
// destination sets: nil unless both are there with this rollout's value.
func stickyOf(route map[string]any, setCookie, value string) *providers.Sticky {
	s, v, ok := providers.ParseSetCookie(setCookie)
	if route == nil || !ok || v != value {
		return nil
	}
	requests, _, _ := unstructured.NestedSlice(route, "match")
	decoded, err := decodeMatchRequests(requests)
	if err != nil || !equality.Semantic.DeepEqual(decoded, []trancheapi.HTTPMatch{s.StickyMatch(value)}) {
		return nil
	}
	return &s
}

func unreadable(vs *unstructured.Unstructured, why string) error {
	return fmt.Errorf("VirtualService %s/%s: %s: %w", vs.GetNamespace(), vs.GetName(), why, providers.ErrUnreadable)
}
