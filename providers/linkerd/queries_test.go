package linkerd_test

import (
	"testing"

	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/linkerd"
)

// TestBuiltinQueriesOnPrometheus evaluates the built-in queries over linkerd-proxy's series
// for the canary Deployment podinfo of SampleVars. The primary's series and the outbound ones
// would change every answer, were they selected.
func TestBuiltinQueriesOnPrometheus(t *testing.T) {
	series := func(metric, deployment, direction, label string) string {
		return metric + `{namespace="shop",deployment="` + deployment + `",direction="` + direction + `",` + label + `}`
	}
	const responses, latency = "response_total", "response_latency_ms_bucket"
	conformance.CheckBuiltinQueries(t, linkerd.New(nil), conformance.BuiltinSeries{
		Canary: []conformance.PromSeries{
			conformance.PerMinute(series(responses, "podinfo", "inbound", `classification="success",status_code="200"`), 180),
			conformance.PerMinute(series(responses, "podinfo", "inbound", `classification="failure",status_code="500"`), 60),
			conformance.PerMinute(series(responses, "podinfo", "outbound", `classification="failure",status_code="500"`), 6000),
			conformance.PerMinute(series(responses, "podinfo-primary", "inbound", `classification="failure",status_code="500"`), 6000),
			conformance.PerMinute(series(latency, "podinfo", "inbound", `le="100"`), 5400),
			conformance.PerMinute(series(latency, "podinfo", "inbound", `le="300"`), 6000),
			conformance.PerMinute(series(latency, "podinfo", "inbound", `le="+Inf"`), 6000),
			conformance.PerMinute(series(latency, "podinfo-primary", "inbound", `le="+Inf"`), 60000),
		},
		Failing: []conformance.PromSeries{conformance.PerMinute(series(responses, "podinfo", "inbound", `classification="failure"`), 60)},
		Others:  []conformance.PromSeries{conformance.PerMinute(series(responses, "podinfo-primary", "inbound", `classification="success"`), 60)},
	})
}
