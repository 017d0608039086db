package istio

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

// Istio matches headers and query parameters exactly, by prefix or by a regular expression
// over the whole value; it has no cookie match, so a cookie is a regular expression on the
// cookie header, in the encoding of the providers package (see providers.CookieRegex), which
// reads back exactly.
//
// Istio wants header names in lower case: they are written, and read back, so.
var cookieHeader = strings.ToLower(providers.CookieHeader)

func stringMatch(s trancheapi.StringMatch) map[string]any {
	switch s.Type {
	case trancheapi.MatchPrefix:
		return map[string]any{"prefix": s.Value}
	case trancheapi.MatchRegularExpression:
		return map[string]any{"regex": s.Value}
	}
	return map[string]any{"exact": s.Value}
}

// matchRequests encodes the A/B matches as Istio's HTTPMatchRequests (alternatives, as in
// the API). A match holds one condition per header name, so at most one cookie, and no
// cookie beside a cookie header.
func matchRequests(matches []trancheapi.HTTPMatch) ([]any, error) {
	var out []any
	for _, m := range matches {
		if m.GRPCMethod != nil {
			return nil, fmt.Errorf("the istio provider matches gRPC calls on their metadata (headers), not on their method: %w", providers.ErrUnsupported)
		}
		headers, params := map[string]any{}, map[string]any{}
		for _, h := range m.Headers {
			name := strings.ToLower(h.Name)
			if _, dup := headers[name]; dup || (name == cookieHeader && len(m.Cookies) > 0) {
				return nil, fmt.Errorf("istio matches a header once per match: %q is there twice (a cookie is matched through the cookie header): %w", name, providers.ErrUnsupported)
			}
			headers[name] = stringMatch(h)
		}
		if len(m.Cookies) > 1 {
			return nil, fmt.Errorf("istio matches at most one cookie per match (through the one cookie header): %w", providers.ErrUnsupported)
		}
		for _, c := range m.Cookies {
			headers[cookieHeader] = map[string]any{"regex": providers.CookieRegex(c)}
		}
		for _, q := range m.QueryParams {
			params[q.Name] = stringMatch(q)
		}
		request := map[string]any{}
		if len(headers) > 0 {
			request["headers"] = headers
		}
		if len(params) > 0 {
			request["queryParams"] = params
		}
		out = append(out, request)
	}
	return out, nil
}

// decodeMatchRequests reads the matches back; conditions come in name order.
func decodeMatchRequests(requests []providers.Field) ([]trancheapi.HTTPMatch, error) {
	var out []trancheapi.HTTPMatch
	for _, request := range requests {
		var m trancheapi.HTTPMatch
		headers, err := decodeConditions(request.Get("headers"))
		if err != nil {
			return nil, err
		}
		for _, s := range headers {
			if s.Name == cookieHeader && s.Type == trancheapi.MatchRegularExpression {
				if c, ok := providers.CookieFromRegex(s.Value); ok {
					m.Cookies = append(m.Cookies, c)
					continue
				}
			}
			m.Headers = append(m.Headers, s)
		}
		if m.QueryParams, err = decodeConditions(request.Get("queryParams")); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// decodeConditions reads a map of names to Istio's StringMatch, in name order.
func decodeConditions(conditions providers.Field) ([]trancheapi.StringMatch, error) {
	byName, _, err := conditions.AsMap()
	if err != nil {
		return nil, err
	}
	var out []trancheapi.StringMatch
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		s, err := decodeString(name, conditions.Get(name))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// istioMatchTypes are the comparisons of Istio's StringMatch, by field name.
var istioMatchTypes = []struct {
	field string
	typ   trancheapi.MatchType
}{{"exact", trancheapi.MatchExact}, {"prefix", trancheapi.MatchPrefix}, {"regex", trancheapi.MatchRegularExpression}}

func decodeString(name string, condition providers.Field) (trancheapi.StringMatch, error) {
	for _, t := range istioMatchTypes {
		value, found, err := condition.Get(t.field).AsString()
		if err != nil {
			return trancheapi.StringMatch{}, err
		}
		if found {
			return trancheapi.StringMatch{Name: name, Value: value, Type: t.typ}, nil
		}
	}
	return trancheapi.StringMatch{}, condition.Invalid("is not exact, prefix or regex")
}

// Istio's standard metrics, reported by the canary's sidecars (reporter="destination") for
// the target Deployment's workload.
const (
	canaryWorkload  = `reporter="destination", destination_workload_namespace="{{ .Namespace }}", destination_workload="{{ .Canary }}"`
	primaryWorkload = `reporter="destination", destination_workload_namespace="{{ .Namespace }}", destination_workload="{{ .Primary }}"`
)

// requestMetrics are Istio's standard metrics, which measure milliseconds.
var requestMetrics = providers.RequestMetrics{
	Requests: "istio_requests_total", Canary: canaryWorkload, Primary: primaryWorkload, Succeeded: `response_code!~"5.."`,
	DurationBuckets: "istio_request_duration_milliseconds_bucket",
}

// RequestMetrics are the data plane's request metrics.
func (r *Router) RequestMetrics() []providers.RequestMetrics {
	return []providers.RequestMetrics{requestMetrics}
}

// Features says what Istio's VirtualService does.
func (r *Router) Features() providers.Features {
	return providers.Features{AnyWeight: true, Match: "headers, cookies, query parameters", Mirror: true, Sticky: true, Metrics: "Istio's standard metrics", Status: statusWord,
		GRPC: "the VirtualService's HTTP routes (HTTP/2)"}
}
