package gatewayapi_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/gatewayapi"
)

// Label values as the data planes write them, for the Rollout "frontend" in namespace "shop"
// rolling out "podinfo" (conformance.SampleVars).
const (
	traefikCanary  = "httproute-shop-frontend-gw-gateways-public-ep-web-1-0c94c9890834716ca5dc-svc-shop-podinfo-canary-1@kubernetesgateway"
	traefikPrimary = "httproute-shop-frontend-gw-gateways-public-ep-web-1-0c94c9890834716ca5dc-svc-shop-podinfo-primary-0@kubernetesgateway"
	traefikOther   = "httproute-shop-frontend2-gw-gateways-public-ep-web-0-0c94c9890834716ca5dc-svc-shop-podinfo-canary-1@kubernetesgateway"
	istioCanary    = "outbound|80||podinfo-canary.shop.svc.cluster.local"
	contourCanary  = "shop/podinfo-canary/80/da39a3ee5e"
	istioPrimary   = "outbound|80||podinfo-primary.shop.svc.cluster.local"
	istioElsewhere = "outbound|80||podinfo-canary.staging.svc.cluster.local"
	istioLookalike = "outbound|80||mypodinfo-canary.shop.svc.cluster.local"
)

// selectors returns the regular expressions of the label matchers name=~"..." in a query,
// anchored as Prometheus anchors them.
func selectors(t *testing.T, query, label string) []*regexp.Regexp {
	t.Helper()
	var out []*regexp.Regexp
	for _, m := range regexp.MustCompile(label+`=~"([^"]*)"`).FindAllStringSubmatch(query, -1) {
		out = append(out, regexp.MustCompile("^(?:"+m[1]+")$"))
	}
	require.NotEmpty(t, out, "no %s=~ matcher in %s", label, query)
	return out
}

// matchesAll reports whether value passes every one of the matchers.
func matchesAll(res []*regexp.Regexp, value string) bool {
	for _, re := range res {
		if !re.MatchString(value) {
			return false
		}
	}
	return true
}

func TestBuiltinQueriesSelectTheCanary(t *testing.T) {
	for _, tc := range []struct {
		metric  trancheapi.BuiltinMetric
		metrics []string
	}{
		{trancheapi.BuiltinRequestSuccessRate, []string{"traefik_service_requests_total", "envoy_cluster_upstream_rq{", `code!~"5.."`, `envoy_response_code!~"5.."`, "or vector(0)"}},
		{trancheapi.BuiltinRequestDuration, []string{"1000 * histogram_quantile(0.99", "traefik_service_request_duration_seconds_bucket", "envoy_cluster_upstream_rq_time_bucket", "sum by (le)"}},
	} {
		t.Run(string(tc.metric), func(t *testing.T) {
			query := conformance.RenderBuiltin(t, gatewayapi.New(nil), tc.metric)
			for _, want := range tc.metrics {
				assert.Contains(t, query, want)
			}
			assert.Contains(t, query, "[1m]")
			assert.Equal(t, 1, strings.Count(query, "\nor\n"), "one family on each side of the or")
			assert.Equal(t, strings.Count(query, "("), strings.Count(query, ")"))

			traefik := selectors(t, query, "service")
			assert.True(t, matchesAll(traefik[:1], traefikCanary))
			assert.False(t, matchesAll(traefik[:1], traefikPrimary))
			assert.False(t, matchesAll(traefik[:1], traefikOther), "another route's series")

			envoy := selectors(t, query, "envoy_cluster_name")[:2] // the Service name, then the namespace
			assert.True(t, matchesAll(envoy, istioCanary))
			assert.True(t, matchesAll(envoy, contourCanary))
			assert.False(t, matchesAll(envoy, istioPrimary))
			assert.False(t, matchesAll(envoy, istioElsewhere))
			assert.False(t, matchesAll(envoy, istioLookalike))
		})
	}
}
