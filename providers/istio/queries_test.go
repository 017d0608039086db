package istio_test

import (
	"testing"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/istio"
)

func render(t *testing.T, metric trancheapi.BuiltinMetric) string {
	t.Helper()
	return conformance.RenderBuiltin(t, istio.New(nil), metric)
}

// TestBuiltinQueriesOnPrometheus evaluates the built-in queries with Prometheus's engine over
// Istio's standard metrics for the canary workload podinfo of SampleVars. The primary's, the
// source-reported and another namespace's series carry values that would change every
// answer, were they selected.
func TestBuiltinQueriesOnPrometheus(t *testing.T) {
	success := render(t, trancheapi.BuiltinRequestSuccessRate)
	duration := render(t, trancheapi.BuiltinRequestDuration)
	series := func(metric, reporter, ns, workload, label string) string {
		return metric + `{reporter="` + reporter + `",destination_workload_namespace="` + ns + `",destination_workload="` + workload + `",` + label + `}`
	}
	const requests, buckets = "istio_requests_total", "istio_request_duration_milliseconds_bucket"
	conformance.CheckPromQL(t, []conformance.PromTestGroup{{
		Name: "the canary workload's requests", Interval: "1m",
		InputSeries: []conformance.PromSeries{
			conformance.PerMinute(series(requests, "destination", "shop", "podinfo", `response_code="200"`), 180),
			conformance.PerMinute(series(requests, "destination", "shop", "podinfo", `response_code="503"`), 60),
			conformance.PerMinute(series(requests, "source", "shop", "podinfo", `response_code="503"`), 6000),
			conformance.PerMinute(series(requests, "destination", "shop", "podinfo-primary", `response_code="500"`), 6000),
			conformance.PerMinute(series(requests, "destination", "bank", "podinfo", `response_code="500"`), 6000),
			conformance.PerMinute(series(buckets, "destination", "shop", "podinfo", `le="100"`), 5400),
			conformance.PerMinute(series(buckets, "destination", "shop", "podinfo", `le="300"`), 6000),
			conformance.PerMinute(series(buckets, "destination", "shop", "podinfo", `le="+Inf"`), 6000),
			conformance.PerMinute(series(buckets, "destination", "shop", "podinfo-primary", `le="+Inf"`), 60000),
		},
		PromQLExprTest: []conformance.PromExprTest{
			conformance.Expect(success, conformance.Value(75)), conformance.Expect(duration, conformance.Value(280)),
		},
	}, {
		Name: "a canary failing every request reads 0, not no data", Interval: "1m",
		InputSeries:    []conformance.PromSeries{conformance.PerMinute(series(requests, "destination", "shop", "podinfo", `response_code="500"`), 60)},
		PromQLExprTest: []conformance.PromExprTest{conformance.Expect(success, conformance.Value(0))},
	}, {
		Name: "no requests to the canary: no answer", Interval: "1m",
		InputSeries:    []conformance.PromSeries{conformance.PerMinute(series(requests, "destination", "shop", "podinfo-primary", `response_code="200"`), 60)},
		PromQLExprTest: []conformance.PromExprTest{conformance.Expect(success, nil), conformance.Expect(duration, nil)},
	}})
}
