package traefik_test

import (
	"testing"

	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/traefik"
)

// TestBuiltinQueriesOnPrometheus evaluates the built-in queries over series named as Traefik
// names a TraefikService's backends, <namespace>-<service>-<port>@kubernetescrd, for the
// Rollout of SampleVars. The primary's series, another namespace's and a look-alike
// Service's would change every answer, were they selected.
func TestBuiltinQueriesOnPrometheus(t *testing.T) {
	const (
		requests = "traefik_service_requests_total"
		buckets  = "traefik_service_request_duration_seconds_bucket"
		canary   = "shop-podinfo-canary-80@kubernetescrd"
		primary  = "shop-podinfo-primary-80@kubernetescrd"
		other    = "bank-podinfo-canary-80@kubernetescrd"
		lookLike = "shop-mypodinfo-canary-80@kubernetescrd"
	)
	series := func(metric, service, label string) string {
		return metric + `{service="` + service + `",` + label + `}`
	}
	conformance.CheckBuiltinQueries(t, traefik.New(nil), conformance.BuiltinSeries{
		Canary: []conformance.PromSeries{
			conformance.PerMinute(series(requests, canary, `code="200"`), 180),
			conformance.PerMinute(series(requests, canary, `code="503"`), 60),
			conformance.PerMinute(series(requests, primary, `code="500"`), 6000),
			conformance.PerMinute(series(requests, other, `code="500"`), 6000),
			conformance.PerMinute(series(requests, lookLike, `code="500"`), 6000),
			conformance.PerMinute(series(buckets, canary, `le="0.1"`), 5400),
			conformance.PerMinute(series(buckets, canary, `le="0.3"`), 6000),
			conformance.PerMinute(series(buckets, canary, `le="+Inf"`), 6000),
			conformance.PerMinute(series(buckets, primary, `le="0.1"`), 0),
			conformance.PerMinute(series(buckets, primary, `le="+Inf"`), 60000),
		},
		Failing: []conformance.PromSeries{conformance.PerMinute(series(requests, canary, `code="502"`), 60)},
		Others:  []conformance.PromSeries{conformance.PerMinute(series(requests, primary, `code="200"`), 60)},
	})
}
