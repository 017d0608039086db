package gatewayapi_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// The types of a promtool rule unit test file (`promtool test rules`), which evaluates PromQL
// with Prometheus's own engine over series given in the file: no server, no scraping. The
// file is written as JSON, which YAML reads.
type (
	promSeries struct {
		Series string `json:"series"`
		Values string `json:"values"`
	}
	promSample struct {
		Labels string  `json:"labels"`
		Value  float64 `json:"value"`
	}
	promExprTest struct {
		Expr       string       `json:"expr"`
		EvalTime   string       `json:"eval_time"`
		ExpSamples []promSample `json:"exp_samples"`
	}
	promTestGroup struct {
		Name           string         `json:"name"`
		Interval       string         `json:"interval"`
		InputSeries    []promSeries   `json:"input_series"`
		PromQLExprTest []promExprTest `json:"promql_expr_test"`
	}
)

// perMinute is a counter growing by n every minute for five minutes, in promtool's notation.
func perMinute(series string, n int) promSeries {
	return promSeries{Series: series, Values: "0+" + strconv.Itoa(n) + "x5"}
}

// expect evaluates query at 4m, rounded to a tenth (the engine's floating point is not what
// this test is about); want nil expects no answer at all.
func expect(query string, want *float64) promExprTest {
	samples := []promSample{}
	if want != nil {
		samples = append(samples, promSample{Labels: "{}", Value: *want})
	}
	return promExprTest{Expr: "round(" + query + ", 0.1)", EvalTime: "4m", ExpSamples: samples}
}

func value(v float64) *float64 { return &v }

// TestBuiltinQueriesOnPrometheus evaluates the built-in queries with Prometheus's engine over
// series shaped as Traefik and Istio's Envoy export them, for the Rollout of SampleVars.
// Series of the primary, of another route, of another namespace and of a look-alike Service
// carry values that would change every answer, were they selected.
func TestBuiltinQueriesOnPrometheus(t *testing.T) {
	promtool := findPromtool(t)
	success := render(t, trancheapi.BuiltinRequestSuccessRate)
	duration := render(t, trancheapi.BuiltinRequestDuration)
	const (
		ab         = "httproute-shop-frontend-gw-gateways-public-ep-web-0-9d1c55e2b4d3a7f01bc2-svc-shop-podinfo-canary-0@kubernetesgateway"
		traefikReq = "traefik_service_requests_total"
		traefikDur = "traefik_service_request_duration_seconds_bucket"
		envoyReq   = "envoy_cluster_upstream_rq"
		envoyDur   = "envoy_cluster_upstream_rq_time_bucket"
	)
	traefik := func(metric, service, label string) string {
		return metric + `{service="` + service + `",` + label + `}`
	}
	envoy := func(metric, cluster, label string) string {
		return metric + `{envoy_cluster_name="` + cluster + `",` + label + `}`
	}
	groups := []promTestGroup{{
		Name: "traefik: the canary's requests through Tranche's rule and the match rule", Interval: "1m",
		InputSeries: []promSeries{
			perMinute(traefik(traefikReq, traefikCanary, `code="200"`), 120),
			perMinute(traefik(traefikReq, ab, `code="200"`), 60),
			perMinute(traefik(traefikReq, traefikCanary, `code="502"`), 60),
			perMinute(traefik(traefikReq, traefikPrimary, `code="500"`), 6000),
			perMinute(traefik(traefikReq, traefikOther, `code="500"`), 6000),
			perMinute(traefik(traefikDur, traefikCanary, `le="0.1"`), 5400),
			perMinute(traefik(traefikDur, traefikCanary, `le="0.3"`), 6000),
			perMinute(traefik(traefikDur, traefikCanary, `le="+Inf"`), 6000),
			perMinute(traefik(traefikDur, traefikPrimary, `le="0.1"`), 0),
			perMinute(traefik(traefikDur, traefikPrimary, `le="+Inf"`), 60000),
		},
		// 180 of 240 requests succeed; the 99th percentile is 9/10 into the 0.1–0.3 s bucket.
		PromQLExprTest: []promExprTest{expect(success, value(75)), expect(duration, value(280))},
	}, {
		Name: "envoy (Istio's cluster names)", Interval: "1m",
		InputSeries: []promSeries{
			perMinute(envoy(envoyReq, istioCanary, `envoy_response_code="200"`), 4500),
			perMinute(envoy(envoyReq, istioCanary, `envoy_response_code="503"`), 1500),
			perMinute(envoy(envoyReq, istioPrimary, `envoy_response_code="503"`), 6000),
			perMinute(envoy(envoyReq, istioElsewhere, `envoy_response_code="503"`), 6000),
			perMinute(envoy(envoyReq, istioLookalike, `envoy_response_code="503"`), 6000),
			perMinute(envoy(envoyDur, istioCanary, `le="10"`), 3000),
			perMinute(envoy(envoyDur, istioCanary, `le="50"`), 6000),
			perMinute(envoy(envoyDur, istioCanary, `le="+Inf"`), 6000),
			perMinute(envoy(envoyDur, istioPrimary, `le="10"`), 0),
			perMinute(envoy(envoyDur, istioPrimary, `le="+Inf"`), 6000),
		},
		PromQLExprTest: []promExprTest{expect(success, value(75)), expect(duration, value(49.2))},
	}, {
		Name: "a canary failing every request reads 0, not no data", Interval: "1m",
		InputSeries:    []promSeries{perMinute(traefik(traefikReq, traefikCanary, `code="502"`), 60)},
		PromQLExprTest: []promExprTest{expect(success, value(0))},
	}, {
		Name: "no series of the canary: no answer", Interval: "1m",
		InputSeries: []promSeries{
			perMinute(traefik(traefikReq, traefikPrimary, `code="200"`), 60),
			perMinute(envoy(envoyReq, istioPrimary, `envoy_response_code="200"`), 60),
		},
		PromQLExprTest: []promExprTest{expect(success, nil), expect(duration, nil)},
	}}
	data, err := json.Marshal(map[string]any{"rule_files": []string{}, "evaluation_interval": "1m", "tests": groups})
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "queries_test.yml")
	require.NoError(t, os.WriteFile(file, data, 0o600))
	out, err := exec.CommandContext(t.Context(), promtool, "test", "rules", file).CombinedOutput()
	require.NoError(t, err, "promtool test rules:\n%s", out)
}

// findPromtool finds the promtool that comes with Prometheus: on PATH, else where Debian's
// package puts it (hack/install-prometheus.sh installs that package).
func findPromtool(t *testing.T) string {
	t.Helper()
	if path, err := exec.LookPath("promtool"); err == nil {
		return path
	}
	const debian = "/usr/bin/promtool"
	if _, err := os.Stat(debian); err == nil {
		return debian
	}
	require.FailNow(t, "promtool not found: install Prometheus (hack/install-prometheus.sh), which comes with it")
	return ""
}
