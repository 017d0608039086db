package gatewayapi

import (
	"github.com/tranche-dev/tranche/providers"
)

// Gateway API standardises routes, not metrics, so the built-in queries ask the two families
// of metrics the common implementations export, joined with PromQL's `or`: whichever has
// series answers (Traefik's when both do).

// traefikSeries selects Traefik's series of the backendRefs to the canary's (or the
// primary's) Service in the Rollout's route. Traefik names a backendRef's service
// httproute-<ns>-<route>-gw-<gwNs>-<gw>-ep-<entrypoint>-<rule>-<hash>-svc-<ns>-<svc>-<backend>@kubernetesgateway.
// The gateway, rule and backend positions are left open: requests through every Gateway
// count, so do the match rule's, and a rule inserted before Tranche's (which shifts the
// indexes) does not hide the series.
func traefikSeries(workload string) string {
	return `service=~"httproute-{{ .Namespace }}-{{ .Rollout }}-gw-.+-svc-{{ .Namespace }}-{{ .Target }}-` + workload + `-[0-9]+@kubernetesgateway"`
}

// envoySeries selects Envoy clusters named after the canary (or the primary) Service of the
// Rollout's namespace, such as Istio's outbound|80||podinfo-canary.shop.svc.cluster.local
// and Contour's shop/podinfo-canary/80/da39a3ee5e. The Service name and the namespace must
// each stand between separators, so that podinfo-canary does not also select
// mypodinfo-canary. Envoy Gateway names clusters after route rules rather than Services, so
// its users need a MetricTemplate.
func envoySeries(workload string) string {
	return `envoy_cluster_name=~"(.*[^-a-z0-9])?{{ .Target }}-` + workload + `([^-a-z0-9].*)?", ` +
		`envoy_cluster_name=~"(.*[^-a-z0-9])?{{ .Namespace }}([^-a-z0-9].*)?"`
}

// requestMetrics are the gatewayAPI provider's families of request metrics: Traefik's, and
// those of Envoy based implementations that name clusters after Services (Istio, Contour).
// Traefik measures seconds, Envoy's upstream_rq_time milliseconds.
var requestMetrics = []providers.RequestMetrics{
	{
		Requests: "traefik_service_requests_total", Canary: traefikSeries("canary"), Primary: traefikSeries("primary"), Succeeded: `code!~"5.."`,
		DurationBuckets: "traefik_service_request_duration_seconds_bucket", DurationInSeconds: true,
	},
	{
		Requests: "envoy_cluster_upstream_rq", Canary: envoySeries("canary"), Primary: envoySeries("primary"), Succeeded: `envoy_response_code!~"5.."`,
		DurationBuckets: "envoy_cluster_upstream_rq_time_bucket",
	},
}

// RequestMetrics are the data plane's families of request metrics.
func (r *Router) RequestMetrics() []providers.RequestMetrics { return r.metrics }

// Features says what the gatewayAPI provider does; a Router made with NewWith for a mesh
// says the same but for what that mesh lacks (see package linkerd).
func (r *Router) Features() providers.Features {
	return providers.Features{AnyWeight: true, Match: "headers, cookies, query parameters", Mirror: true, Sticky: true, Metrics: "Traefik, Envoy (Istio, Contour)", Status: routeStatus}
}

// routeStatus is where a Gateway API implementation says it took a route.
const routeStatus = "route status (every parent: Accepted, ResolvedRefs)"
