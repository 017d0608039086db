package istio_test

import (
	"testing"

	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/istio"
)

// TestBuiltinQueriesOnPrometheus evaluates the built-in queries over Istio's standard metrics
// for the canary workload podinfo of SampleVars. The primary's, the source-reported and
// another namespace's series would change every answer, were they selected.
func TestBuiltinQueriesOnPrometheus(t *testing.T) {
	series := func(metric, reporter, ns, workload, label string) string {
		return metric + `{reporter="` + reporter + `",destination_workload_namespace="` + ns + `",destination_workload="` + workload + `",` + label + `}`
	}
	const requests, buckets = "istio_requests_total", "istio_request_duration_milliseconds_bucket"
	conformance.CheckBuiltinQueries(t, istio.New(nil), conformance.BuiltinSeries{
		Canary: []conformance.PromSeries{
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
		Failing: []conformance.PromSeries{conformance.PerMinute(series(requests, "destination", "shop", "podinfo", `response_code="500"`), 60)},
		Others:  []conformance.PromSeries{conformance.PerMinute(series(requests, "destination", "shop", "podinfo-primary", `response_code="200"`), 60)},
	})
}
