package linkerd_test

import (
	"testing"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/linkerd"
)

func render(t *testing.T, metric trancheapi.BuiltinMetric) string {
	t.Helper()
	return conformance.RenderBuiltin(t, linkerd.New(nil), metric)
}

// TestBuiltinQueriesOnPrometheus evaluates the built-in queries with Prometheus's engine over
// linkerd-proxy's series for the canary Deployment podinfo of SampleVars. The primary's
// series and the outbound ones carry values that would change every answer, were they
// selected.
func TestBuiltinQueriesOnPrometheus(t *testing.T) {
	success := render(t, trancheapi.BuiltinRequestSuccessRate)
	duration := render(t, trancheapi.BuiltinRequestDuration)
	series := func(metric, deployment, direction, label string) string {
		return metric + `{namespace="shop",deployment="` + deployment + `",direction="` + direction + `",` + label + `}`
	}
	const responses, latency = "response_total", "response_latency_ms_bucket"
	conformance.CheckPromQL(t, []conformance.PromTestGroup{{
		Name: "the canary's inbound responses", Interval: "1m",
		InputSeries: []conformance.PromSeries{
			conformance.PerMinute(series(responses, "podinfo", "inbound", `classification="success",status_code="200"`), 180),
			conformance.PerMinute(series(responses, "podinfo", "inbound", `classification="failure",status_code="500"`), 60),
			conformance.PerMinute(series(responses, "podinfo", "outbound", `classification="failure",status_code="500"`), 6000),
			conformance.PerMinute(series(responses, "podinfo-primary", "inbound", `classification="failure",status_code="500"`), 6000),
			conformance.PerMinute(series(latency, "podinfo", "inbound", `le="100"`), 5400),
			conformance.PerMinute(series(latency, "podinfo", "inbound", `le="300"`), 6000),
			conformance.PerMinute(series(latency, "podinfo", "inbound", `le="+Inf"`), 6000),
			conformance.PerMinute(series(latency, "podinfo-primary", "inbound", `le="+Inf"`), 60000),
		},
		PromQLExprTest: []conformance.PromExprTest{
			conformance.Expect(success, conformance.Value(75)), conformance.Expect(duration, conformance.Value(280)),
		},
	}, {
		Name: "a canary failing every request reads 0, not no data", Interval: "1m",
		InputSeries:    []conformance.PromSeries{conformance.PerMinute(series(responses, "podinfo", "inbound", `classification="failure"`), 60)},
		PromQLExprTest: []conformance.PromExprTest{conformance.Expect(success, conformance.Value(0))},
	}, {
		Name: "no canary responses: no answer", Interval: "1m",
		InputSeries:    []conformance.PromSeries{conformance.PerMinute(series(responses, "podinfo-primary", "inbound", `classification="success"`), 60)},
		PromQLExprTest: []conformance.PromExprTest{conformance.Expect(success, nil), conformance.Expect(duration, nil)},
	}})
}
