package gatewayapi_test

import (
	"testing"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/gatewayapi"
)

// TestBuiltinQueriesOnPrometheus evaluates the built-in queries over series shaped as Traefik
// and Istio's Envoy export them, for the Rollout of SampleVars. Series of the primary, of
// another route, of another namespace and of a look-alike Service would change every
// answer, were they selected.
func TestBuiltinQueriesOnPrometheus(t *testing.T) {
	const (
		grpcCanary  = "grpcroute-shop-frontend-gw-gateways-public-ep-web-1-0a1c55e2b4d3a7f01bc2-svc-shop-podinfo-canary-0@kubernetesgateway"
		grpcPrimary = "grpcroute-shop-frontend-gw-gateways-public-ep-web-1-0a1c55e2b4d3a7f01bc2-svc-shop-podinfo-primary-0@kubernetesgateway"
		ab          = "httproute-shop-frontend-gw-gateways-public-ep-web-0-9d1c55e2b4d3a7f01bc2-svc-shop-podinfo-canary-0@kubernetesgateway"
		traefikReq  = "traefik_service_requests_total"
		traefikDur  = "traefik_service_request_duration_seconds_bucket"
		envoyReq    = "envoy_cluster_upstream_rq"
		envoyDur    = "envoy_cluster_upstream_rq_time_bucket"
	)
	traefik := func(metric, service, label string) string {
		return metric + `{service="` + service + `",` + label + `}`
	}
	envoy := func(metric, cluster, label string) string {
		return metric + `{envoy_cluster_name="` + cluster + `",` + label + `}`
	}
	conformance.CheckBuiltinQueries(t, gatewayapi.New(nil), conformance.BuiltinSeries{
		// Traefik's: the canary's requests through Tranche's rule and through the match rule.
		Canary: []conformance.PromSeries{
			conformance.PerMinute(traefik(traefikReq, traefikCanary, `code="200"`), 120),
			conformance.PerMinute(traefik(traefikReq, ab, `code="200"`), 60),
			conformance.PerMinute(traefik(traefikReq, traefikCanary, `code="502"`), 60),
			conformance.PerMinute(traefik(traefikReq, traefikPrimary, `code="500"`), 6000),
			conformance.PerMinute(traefik(traefikReq, traefikOther, `code="500"`), 6000),
			conformance.PerMinute(traefik(traefikDur, traefikCanary, `le="0.1"`), 5400),
			conformance.PerMinute(traefik(traefikDur, traefikCanary, `le="0.3"`), 6000),
			conformance.PerMinute(traefik(traefikDur, traefikCanary, `le="+Inf"`), 6000),
			conformance.PerMinute(traefik(traefikDur, traefikPrimary, `le="0.1"`), 0),
			conformance.PerMinute(traefik(traefikDur, traefikPrimary, `le="+Inf"`), 60000),
		},
		Failing: []conformance.PromSeries{conformance.PerMinute(traefik(traefikReq, traefikCanary, `code="502"`), 60)},
		Others: []conformance.PromSeries{
			conformance.PerMinute(traefik(traefikReq, traefikPrimary, `code="200"`), 60),
			conformance.PerMinute(envoy(envoyReq, istioPrimary, `envoy_response_code="200"`), 60),
		},
		More: func(success, duration string) []conformance.PromTestGroup {
			return []conformance.PromTestGroup{{
				Name: "envoy (Istio's cluster names)", Interval: "1m",
				InputSeries: []conformance.PromSeries{
					conformance.PerMinute(envoy(envoyReq, istioCanary, `envoy_response_code="200"`), 4500),
					conformance.PerMinute(envoy(envoyReq, istioCanary, `envoy_response_code="503"`), 1500),
					conformance.PerMinute(envoy(envoyReq, istioPrimary, `envoy_response_code="503"`), 6000),
					conformance.PerMinute(envoy(envoyReq, istioElsewhere, `envoy_response_code="503"`), 6000),
					conformance.PerMinute(envoy(envoyReq, istioLookalike, `envoy_response_code="503"`), 6000),
					conformance.PerMinute(envoy(envoyDur, istioCanary, `le="10"`), 3000),
					conformance.PerMinute(envoy(envoyDur, istioCanary, `le="50"`), 6000),
					conformance.PerMinute(envoy(envoyDur, istioCanary, `le="+Inf"`), 6000),
					conformance.PerMinute(envoy(envoyDur, istioPrimary, `le="10"`), 0),
					conformance.PerMinute(envoy(envoyDur, istioPrimary, `le="+Inf"`), 6000),
				},
				PromQLExprTest: []conformance.PromExprTest{
					conformance.Expect(success, conformance.Value(75)), conformance.Expect(duration, conformance.Value(49.2)),
					conformance.Expect(conformance.RenderBuiltin(t, gatewayapi.New(nil), trancheapi.BuiltinTrafficShare), conformance.Value(50)),
				},
			}, {
				// A GRPCRoute's series, whose code is the call's gRPC status: UNAVAILABLE is
				// the server's failure, NOT_FOUND the client's, as a 404 is, and UNKNOWN what
				// Traefik 3.7 counts of every call that answered.
				Name: "traefik (a GRPCRoute's calls)", Interval: "1m",
				InputSeries: []conformance.PromSeries{
					conformance.PerMinute(traefik(traefikReq, grpcCanary, `code="2",protocol="grpc"`), 3600),
					conformance.PerMinute(traefik(traefikReq, grpcCanary, `code="0",protocol="grpc"`), 600),
					conformance.PerMinute(traefik(traefikReq, grpcCanary, `code="14",protocol="grpc"`), 1200),
					conformance.PerMinute(traefik(traefikReq, grpcCanary, `code="5",protocol="grpc"`), 600),
					conformance.PerMinute(traefik(traefikReq, grpcPrimary, `code="14",protocol="grpc"`), 6000),
				},
				PromQLExprTest: []conformance.PromExprTest{conformance.Expect(success, conformance.Value(80))},
			}}
		},
	})
}
