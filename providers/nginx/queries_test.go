package nginx_test

import (
	"testing"

	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/nginx"
)

// TestBuiltinQueriesOnPrometheus evaluates the built-in queries over ingress-nginx's series,
// for the Rollout "frontend" of SampleVars, whose canary Ingress is frontend-canary. The
// user's Ingress and another namespace's would change every answer, were they selected.
func TestBuiltinQueriesOnPrometheus(t *testing.T) {
	series := func(metric, ns, ingress, label string) string {
		return metric + `{namespace="` + ns + `",ingress="` + ingress + `",` + label + `}`
	}
	const requests, buckets = "nginx_ingress_controller_requests", "nginx_ingress_controller_request_duration_seconds_bucket"
	conformance.CheckBuiltinQueries(t, nginx.New(nil), conformance.BuiltinSeries{
		Canary: []conformance.PromSeries{
			conformance.PerMinute(series(requests, "shop", "frontend-canary", `status="200"`), 180),
			conformance.PerMinute(series(requests, "shop", "frontend-canary", `status="500"`), 60),
			conformance.PerMinute(series(requests, "shop", "frontend", `status="500"`), 6000),
			conformance.PerMinute(series(requests, "bank", "frontend-canary", `status="500"`), 6000),
			conformance.PerMinute(series(buckets, "shop", "frontend-canary", `le="0.1"`), 5400),
			conformance.PerMinute(series(buckets, "shop", "frontend-canary", `le="0.3"`), 6000),
			conformance.PerMinute(series(buckets, "shop", "frontend-canary", `le="+Inf"`), 6000),
			conformance.PerMinute(series(buckets, "shop", "frontend", `le="+Inf"`), 60000),
		},
		Failing: []conformance.PromSeries{conformance.PerMinute(series(requests, "shop", "frontend-canary", `status="502"`), 60)},
		Others:  []conformance.PromSeries{conformance.PerMinute(series(requests, "shop", "frontend", `status="200"`), 60)},
	})
}
