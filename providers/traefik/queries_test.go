package traefik_test

import (
	"testing"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/traefik"
)

func render(t *testing.T, metric trancheapi.BuiltinMetric) string {
	t.Helper()
	return conformance.RenderBuiltin(t, traefik.New(nil), metric)
}

// TestBuiltinQueriesOnPrometheus evaluates the built-in queries with Prometheus's engine over
// series named as Traefik names a TraefikService's backends, <namespace>-<service>-<port>@kubernetescrd,
// for the Rollout of SampleVars. The primary's series, another namespace's and a look-alike
// Service's carry values that would change every answer, were they selected.
func TestBuiltinQueriesOnPrometheus(t *testing.T) {
	success := render(t, trancheapi.BuiltinRequestSuccessRate)
	duration := render(t, trancheapi.BuiltinRequestDuration)
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
	conformance.CheckPromQL(t, []conformance.PromTestGroup{{
		Name: "the canary's backend", Interval: "1m",
		InputSeries: []conformance.PromSeries{
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
		// 180 of 240 requests succeed; the 99th percentile is 9/10 into the 0.1–0.3 s bucket.
		PromQLExprTest: []conformance.PromExprTest{
			conformance.Expect(success, conformance.Value(75)), conformance.Expect(duration, conformance.Value(280)),
		},
	}, {
		Name: "a canary failing every request reads 0, not no data", Interval: "1m",
		InputSeries:    []conformance.PromSeries{conformance.PerMinute(series(requests, canary, `code="502"`), 60)},
		PromQLExprTest: []conformance.PromExprTest{conformance.Expect(success, conformance.Value(0))},
	}, {
		Name: "no series of the canary: no answer", Interval: "1m",
		InputSeries:    []conformance.PromSeries{conformance.PerMinute(series(requests, primary, `code="200"`), 60)},
		PromQLExprTest: []conformance.PromExprTest{conformance.Expect(success, nil), conformance.Expect(duration, nil)},
	}})
}
