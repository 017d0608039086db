package gatewayapi

import (
	"github.com/tranche-dev/tranche/providers"
)

// Gateway API standardises routes, not metrics, so the built-in queries ask the two families
// of metrics the common implementations export, joined with PromQL's `or`: whichever has
// series answers (Traefik's when both do).

// traefikSeries selects Traefik's series of the backendRefs to the canary's (or the
// primary's) Service in the Rollout's route. Traefik names a backendRef's service
// httproute-<ns>-<route>-gw-<gwNs>-<gw>-ep-<entrypoint>-<rule>-<hash>-svc-<ns>-<svc>-<backend>@kubernetesgateway,
// grpcroute-... for a GRPCRoute's.
// The gateway, rule and backend positions are left open: requests through every Gateway
// count, so do the match rule's, and a rule inserted before Tranche's (which shifts the
// indexes) does not hide the series.
func traefikSeries(workload string) string {
	return `service=~"(http|grpc)route-{{ .Namespace }}-{{ .Rollout }}-gw-.+-svc-{{ .Namespace }}-{{ .Target }}-` + workload + `-[0-9]+@kubernetesgateway"`
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

// traefikSucceeded is what Traefik counts as a request the service answered: not a 5xx, and,
// for a gRPC call (whose code label Traefik sets to the call's gRPC status), none of the
// statuses that are the server's fault: DEADLINE_EXCEEDED (4), UNIMPLEMENTED (12), INTERNAL
// (13), UNAVAILABLE (14) and DATA_LOSS (15). The others (NOT_FOUND, INVALID_ARGUMENT,
// PERMISSION_DENIED...) are the client's, as a 4xx is. UNKNOWN (2) is left out too: Traefik
// 3.7 reads the status from the response's headers, and a call that answered carries it in
// its trailers, so Traefik counts every answered call as UNKNOWN (seen in make e2e); a failed
// call's status comes in its headers (a trailers-only answer) and is counted as it is. HTTP's
// codes have three digits and gRPC's one or two, so one pattern serves both.
const traefikSucceeded = `code!~"5..|4|12|13|14|15"`

// requestMetrics are the gatewayAPI provider's families of request metrics: Traefik's, and
// those of Envoy based implementations that name clusters after Services (Istio, Contour).
// Traefik measures seconds, Envoy's upstream_rq_time milliseconds.
var requestMetrics = []providers.RequestMetrics{
	{
		Requests: "traefik_service_requests_total", Canary: traefikSeries("canary"), Primary: traefikSeries("primary"), Succeeded: traefikSucceeded,
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
	return providers.Features{AnyWeight: true, Match: "headers, cookies, query parameters", Mirror: true, Sticky: true, Metrics: "Traefik, Envoy (Istio, Contour)", Status: routeStatus,
		GRPC: "a GRPCRoute (weights; A/B on metadata, methods)", TCP: "a TCPRoute (weights)",
		Ports: "a route for each port, of its protocol's kind"}
}

// routeStatus is where a Gateway API implementation says it took a route.
const routeStatus = "route status (every parent: Accepted, ResolvedRefs)"
