package nginx_test

import (
	"testing"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/nginx"
)

func render(t *testing.T, metric trancheapi.BuiltinMetric) string {
	t.Helper()
	return conformance.RenderBuiltin(t, nginx.New(nil), metric)
}

// TestBuiltinQueriesOnPrometheus evaluates the built-in queries with Prometheus's engine over
// ingress-nginx's series, for the Rollout "frontend" of SampleVars, whose canary Ingress is
// frontend-canary. The user's Ingress and another namespace's carry values that would change
// every answer, were they selected.
func TestBuiltinQueriesOnPrometheus(t *testing.T) {
	success := render(t, trancheapi.BuiltinRequestSuccessRate)
	duration := render(t, trancheapi.BuiltinRequestDuration)
	series := func(metric, ns, ingress, label string) string {
		return metric + `{namespace="` + ns + `",ingress="` + ingress + `",` + label + `}`
	}
	const requests, buckets = "nginx_ingress_controller_requests", "nginx_ingress_controller_request_duration_seconds_bucket"
	conformance.CheckPromQL(t, []conformance.PromTestGroup{{
		Name: "the canary Ingress's requests", Interval: "1m",
		InputSeries: []conformance.PromSeries{
			conformance.PerMinute(series(requests, "shop", "frontend-canary", `status="200"`), 180),
			conformance.PerMinute(series(requests, "shop", "frontend-canary", `status="500"`), 60),
			conformance.PerMinute(series(requests, "shop", "frontend", `status="500"`), 6000),
			conformance.PerMinute(series(requests, "bank", "frontend-canary", `status="500"`), 6000),
			conformance.PerMinute(series(buckets, "shop", "frontend-canary", `le="0.1"`), 5400),
			conformance.PerMinute(series(buckets, "shop", "frontend-canary", `le="0.3"`), 6000),
			conformance.PerMinute(series(buckets, "shop", "frontend-canary", `le="+Inf"`), 6000),
			conformance.PerMinute(series(buckets, "shop", "frontend", `le="+Inf"`), 60000),
		},
		PromQLExprTest: []conformance.PromExprTest{
			conformance.Expect(success, conformance.Value(75)), conformance.Expect(duration, conformance.Value(280)),
		},
	}, {
		Name: "a canary failing every request reads 0, not no data", Interval: "1m",
		InputSeries:    []conformance.PromSeries{conformance.PerMinute(series(requests, "shop", "frontend-canary", `status="502"`), 60)},
		PromQLExprTest: []conformance.PromExprTest{conformance.Expect(success, conformance.Value(0))},
	}, {
		Name: "no requests to the canary: no answer", Interval: "1m",
		InputSeries:    []conformance.PromSeries{conformance.PerMinute(series(requests, "shop", "frontend", `status="200"`), 60)},
		PromQLExprTest: []conformance.PromExprTest{conformance.Expect(success, nil), conformance.Expect(duration, nil)},
	}})
}
