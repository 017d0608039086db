package gatewayapi

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/conformance"
)

var testTarget = target{namespace: "shop", primary: "podinfo-primary", canary: "podinfo-canary", port: 80}

var (
	exact  = conformance.Exact
	prefix = conformance.Prefix
	regex  = conformance.Regex
)

// TestMatchesReadBack checks that what SetRoutes writes, Routes reads back exactly, also for
// values that look like the encoding of another comparison.
func TestMatchesReadBack(t *testing.T) {
	for _, tc := range []struct {
		name  string
		match trancheapi.HTTPMatch
	}{
		{"exact header", trancheapi.HTTPMatch{Headers: []trancheapi.StringMatch{exact("x-canary", "true")}}},
		{"exact header that looks like a regex", trancheapi.HTTPMatch{Headers: []trancheapi.StringMatch{exact("x-v", "^a.*")}}},
		{"prefix header", trancheapi.HTTPMatch{Headers: []trancheapi.StringMatch{prefix("user-agent", "Mozilla/5.0 (X11")}}},
		{"regex that looks like a prefix", trancheapi.HTTPMatch{Headers: []trancheapi.StringMatch{regex("x-v", "^abc.*")}}},
		{"regex with alternatives", trancheapi.HTTPMatch{Headers: []trancheapi.StringMatch{regex("x-v", "a|b")}}},
		{"query params", trancheapi.HTTPMatch{QueryParams: []trancheapi.StringMatch{exact("beta", "1"), prefix("v", "2."), regex("w", "[0-9]+")}}},
		{"exact cookie", trancheapi.HTTPMatch{Cookies: []trancheapi.StringMatch{exact("tester", "yes")}}},
		{"prefix cookie with metacharacters", trancheapi.HTTPMatch{Cookies: []trancheapi.StringMatch{prefix("a.b", "x[1]")}}},
		{"regex cookie", trancheapi.HTTPMatch{Cookies: []trancheapi.StringMatch{regex("group", "(a|b)-[0-9]")}}},
		{"a Cookie header of the user's", trancheapi.HTTPMatch{Headers: []trancheapi.StringMatch{regex("Cookie", ".*x=1.*")}}},
		{"everything", trancheapi.HTTPMatch{
			Headers:     []trancheapi.StringMatch{exact("x-a", "1"), prefix("x-b", "2")},
			Cookies:     []trancheapi.StringMatch{exact("c", "3")},
			QueryParams: []trancheapi.StringMatch{regex("q", "4+")},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, main := range []gatewayv1.HTTPRouteRule{
				{}, // a rule without matches serves every path
				{Matches: []gatewayv1.HTTPRouteMatch{
					{Path: &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: ptr.To("/api")},
						Headers: []gatewayv1.HTTPHeaderMatch{{Name: "x-tenant", Value: "a"}}},
					{Path: &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchExact), Value: ptr.To("/health")}},
				}},
			} {
				match := []trancheapi.HTTPMatch{tc.match, {Headers: []trancheapi.StringMatch{exact("x-second", "1")}}}
				rule, err := canaryRule(main, testTarget, match)
				require.NoError(t, err)
				assert.Len(t, rule.Matches, len(match)*len(baseMatches(main)))
				assert.Equal(t, match, decodeMatches(rule, baseMatches(main)))
			}
		})
	}
}

func TestMirrorPercentOfAFraction(t *testing.T) {
	rule := gatewayv1.HTTPRouteRule{}
	setMirror(&rule, testTarget, 40)
	assert.Equal(t, int32(40), mirrorPercent(rule, testTarget))
	rule.Filters[0].RequestMirror.Percent = nil
	assert.Equal(t, int32(100), mirrorPercent(rule, testTarget), "no percent nor fraction mirrors everything")
	rule.Filters[0].RequestMirror.Fraction = &gatewayv1.Fraction{Numerator: 1, Denominator: ptr.To[int32](3)}
	assert.Equal(t, int32(33), mirrorPercent(rule, testTarget))
	setMirror(&rule, testTarget, 0)
	assert.Empty(t, rule.Filters)
}
