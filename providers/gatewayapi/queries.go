package gatewayapi

import (
	"fmt"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

// Gateway API standardises routes, not metrics, so the built-in queries ask the two families
// of metrics the common implementations export, joined with PromQL's `or`: whichever has
// series answers (Traefik's when both do).

// traefikCanary selects Traefik's series of the canary's backendRefs in the Rollout's route.
// Traefik names a backendRef's service
// httproute-<ns>-<route>-gw-<gwNs>-<gw>-ep-<entrypoint>-<rule>-<hash>-svc-<ns>-<svc>-<backend>@kubernetesgateway.
// The gateway, rule and backend positions are left open: requests through every Gateway
// count, so do the match rule's, and a rule inserted before Tranche's (which shifts the
// indexes) does not hide the series.
const traefikCanary = `service=~"httproute-{{ .Namespace }}-{{ .Rollout }}-gw-.+-svc-{{ .Namespace }}-{{ .Target }}-canary-[0-9]+@kubernetesgateway"`

// envoyCanary selects Envoy clusters named after the canary Service of the Rollout's
// namespace, such as Istio's outbound|80||podinfo-canary.shop.svc.cluster.local and Contour's
// shop/podinfo-canary/80/da39a3ee5e. The Service name and the namespace must each stand
// between separators, so that podinfo-canary does not also select mypodinfo-canary. Envoy
// Gateway names clusters after route rules rather than Services, so its users need a
// MetricTemplate.
const envoyCanary = `envoy_cluster_name=~"(.*[^-a-z0-9])?{{ .Target }}-canary([^-a-z0-9].*)?", ` +
	`envoy_cluster_name=~"(.*[^-a-z0-9])?{{ .Namespace }}([^-a-z0-9].*)?"`

// successRateQuery is the percent of the canary's requests not answered with a 5xx. The
// successes default to 0 when no success series exists yet, so a canary failing every
// request reads 0 rather than no data; without any request series the family has no answer.
const successRateQuery = `100 * (
  (sum(rate(traefik_service_requests_total{` + traefikCanary + `, code!~"5.."}[{{ .Interval }}])) or vector(0))
  / sum(rate(traefik_service_requests_total{` + traefikCanary + `}[{{ .Interval }}]))
)
or
100 * (
  (sum(rate(envoy_cluster_upstream_rq{` + envoyCanary + `, envoy_response_code!~"5.."}[{{ .Interval }}])) or vector(0))
  / sum(rate(envoy_cluster_upstream_rq{` + envoyCanary + `}[{{ .Interval }}]))
)`

// durationQuery is the 99th percentile of the canary's request duration in milliseconds:
// Traefik measures seconds, Envoy's upstream_rq_time milliseconds.
const durationQuery = `1000 * histogram_quantile(0.99, sum by (le) (
  rate(traefik_service_request_duration_seconds_bucket{` + traefikCanary + `}[{{ .Interval }}])
))
or
histogram_quantile(0.99, sum by (le) (
  rate(envoy_cluster_upstream_rq_time_bucket{` + envoyCanary + `}[{{ .Interval }}])
))`

// builtinQueries are the gatewayAPI provider's built-in query templates, for Traefik and for
// Envoy based implementations that name clusters after Services (Istio, Contour).
var builtinQueries = map[trancheapi.BuiltinMetric]string{
	trancheapi.BuiltinRequestSuccessRate: successRateQuery,
	trancheapi.BuiltinRequestDuration:    durationQuery,
}

// BuiltinQuery returns the query template of a built-in metric.
func (r *Router) BuiltinQuery(metric trancheapi.BuiltinMetric) (string, error) {
	if q, ok := r.queries[metric]; ok {
		return q, nil
	}
	return "", fmt.Errorf("built-in metric %q is not one this provider knows: %w", metric, providers.ErrUnsupported)
}

// Features says what the gatewayAPI provider does; a Router made with NewWith for a mesh
// says the same but for what that mesh lacks (see package linkerd).
func (r *Router) Features() providers.Features {
	return providers.Features{AnyWeight: true, Match: "headers, cookies, query parameters", Mirror: true, Sticky: true, Metrics: "Traefik, Envoy (Istio, Contour)"}
}
