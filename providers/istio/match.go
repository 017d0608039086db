package istio

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

// Istio matches headers and query parameters exactly, by prefix or by a regular expression
// over the whole value; it has no cookie match, so a cookie is a regular expression on the
// cookie header, written so that it reads back exactly:
//
//	cookie name=value → header cookie, regex ^(?:.*;)?\s*<name quoted>=<value>\s*(?:;.*)?$
//	where <value> is the value quoted (Exact), quoted then [^;]* (Prefix) or (?:<value>)
//
// Istio wants header names in lower case: they are written, and read back, so.
const (
	cookieHeader = "cookie"
	cookieBefore = `^(?:.*;)?\s*`
	cookieAfter  = `\s*(?:;.*)?$`
	prefixRest   = `[^;]*`
)

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
			headers[cookieHeader] = map[string]any{"regex": cookieBefore + regexp.QuoteMeta(c.Name) + "=" + cookieValue(c) + cookieAfter}
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

func cookieValue(c trancheapi.StringMatch) string {
	switch c.Type {
	case trancheapi.MatchPrefix:
		return regexp.QuoteMeta(c.Value) + prefixRest
	case trancheapi.MatchRegularExpression:
		return "(?:" + c.Value + ")"
	}
	return regexp.QuoteMeta(c.Value)
}

// decodeMatchRequests reads the matches back; conditions come in name order.
func decodeMatchRequests(requests []any) ([]trancheapi.HTTPMatch, error) {
	var out []trancheapi.HTTPMatch
	for _, r := range requests {
		request, _ := r.(map[string]any)
		var m trancheapi.HTTPMatch
		headers, _ := request["headers"].(map[string]any)
		for _, name := range sortedKeys(headers) {
			s, err := decodeString(name, headers[name])
			if err != nil {
				return nil, err
			}
			if name == cookieHeader && s.Type == trancheapi.MatchRegularExpression {
				if c, ok := decodeCookie(s.Value); ok {
					m.Cookies = append(m.Cookies, c)
					continue
				}
			}
			m.Headers = append(m.Headers, s)
		}
		params, _ := request["queryParams"].(map[string]any)
		for _, name := range sortedKeys(params) {
			s, err := decodeString(name, params[name])
			if err != nil {
				return nil, err
			}
			m.QueryParams = append(m.QueryParams, s)
		}
		out = append(out, m)
	}
	return out, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func decodeString(name string, v any) (trancheapi.StringMatch, error) {
	m, _ := v.(map[string]any)
	for key, typ := range map[string]trancheapi.MatchType{"exact": trancheapi.MatchExact, "prefix": trancheapi.MatchPrefix, "regex": trancheapi.MatchRegularExpression} {
		if value, ok := m[key].(string); ok {
			return trancheapi.StringMatch{Name: name, Value: value, Type: typ}, nil
		}
	}
	return trancheapi.StringMatch{}, fmt.Errorf("the condition on %q is not exact, prefix or regex", name)
}

// decodeCookie reads a cookie condition written by matchRequests; ok is false for a
// regular expression on the cookie header that is not one.
func decodeCookie(regex string) (trancheapi.StringMatch, bool) {
	if !strings.HasPrefix(regex, cookieBefore) || !strings.HasSuffix(regex, cookieAfter) {
		return trancheapi.StringMatch{}, false
	}
	body := strings.TrimSuffix(strings.TrimPrefix(regex, cookieBefore), cookieAfter)
	name, value, ok := cutUnquoted(body, '=')
	if !ok {
		return trancheapi.StringMatch{}, false
	}
	c := trancheapi.StringMatch{Name: unquote(name), Type: trancheapi.MatchExact}
	switch {
	case strings.HasPrefix(value, "(?:") && strings.HasSuffix(value, ")"):
		c.Type, c.Value = trancheapi.MatchRegularExpression, value[3:len(value)-1]
	case strings.HasSuffix(value, prefixRest):
		c.Type, c.Value = trancheapi.MatchPrefix, unquote(strings.TrimSuffix(value, prefixRest))
	default:
		c.Value = unquote(value)
	}
	return c, true
}

// cutUnquoted cuts s at the first sep that no backslash escapes.
func cutUnquoted(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}

// unquote undoes regexp.QuoteMeta.
func unquote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Istio's standard metrics, reported by the canary's sidecars (reporter="destination") for
// the target Deployment's workload.
const canaryWorkload = `reporter="destination", destination_workload_namespace="{{ .Namespace }}", destination_workload="{{ .Canary }}"`

// builtinQueries are over Istio's standard metrics, which measure milliseconds.
var builtinQueries = providers.RequestMetrics{
	Requests: "istio_requests_total", Canary: canaryWorkload, Succeeded: `response_code!~"5.."`,
	DurationBuckets: "istio_request_duration_milliseconds_bucket",
}.Queries()

// BuiltinQueries are the query templates of the built-in metrics.
func (r *Router) BuiltinQueries() providers.Queries { return builtinQueries }

// Features says what Istio's VirtualService does.
func (r *Router) Features() providers.Features {
	return providers.Features{AnyWeight: true, Match: "headers, cookies, query parameters", Mirror: true, Sticky: true, Metrics: "Istio's standard metrics"}
}
