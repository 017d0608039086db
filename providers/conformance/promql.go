package conformance

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

// The types of a promtool rule unit test file (`promtool test rules`), which evaluates PromQL
// with Prometheus's own engine over series given in the file: no server, no scraping. The
// file is written as JSON, which YAML reads.
type (
	PromSeries struct {
		Series string `json:"series"`
		Values string `json:"values"`
	}
	PromSample struct {
		Labels string  `json:"labels"`
		Value  float64 `json:"value"`
	}
	PromExprTest struct {
		Expr       string       `json:"expr"`
		EvalTime   string       `json:"eval_time"`
		ExpSamples []PromSample `json:"exp_samples"`
	}
	PromTestGroup struct {
		Name           string         `json:"name"`
		Interval       string         `json:"interval"`
		InputSeries    []PromSeries   `json:"input_series"`
		PromQLExprTest []PromExprTest `json:"promql_expr_test"`
	}
)

// PerMinute is a counter growing by n every minute for five minutes, in promtool's notation.
func PerMinute(series string, n int) PromSeries {
	return PromSeries{Series: series, Values: "0+" + strconv.Itoa(n) + "x5"}
}

// Expect evaluates query at 4m, rounded to a tenth (the engine's floating point is not what
// this test is about); want nil expects no answer at all.
func Expect(query string, want *float64) PromExprTest {
	samples := []PromSample{}
	if want != nil {
		samples = append(samples, PromSample{Labels: "{}", Value: *want})
	}
	return PromExprTest{Expr: "round(" + query + ", 0.1)", EvalTime: "4m", ExpSamples: samples}
}

func Value(v float64) *float64 { return &v }

// BuiltinSeries are a data plane's series, named as the data plane names them, for the
// cases every provider's built-in queries are held to (see CheckBuiltinQueries), for the
// Rollout of SampleVars.
type BuiltinSeries struct {
	// Canary are the series of a canary that answered 180 of 240 requests with success, 99%
	// of them within 280 ms (9/10 into a 100–300 ms bucket), beside series of others (the
	// primary, another namespace, a look-alike Service) with values that would change either
	// answer were they selected. The success rate must read 75 and the duration 280. Among
	// them, the primary's requests number 6000 a minute: where the provider has a
	// traffic-share query, the canary's share reads 3.8 (240 of 6240).
	Canary []PromSeries
	// Failing are the series of a canary that failed every request: its success rate reads
	// 0, not no data, and it has all the traffic (100).
	Failing []PromSeries
	// Others are series of others alone, the primary's among them: neither query answers,
	// and the canary's share of the traffic reads 0.
	Others []PromSeries
	// More, when set, are cases of the provider's own, over the two queries as rendered.
	More func(success, duration string) []PromTestGroup
}

// CheckBuiltinQueries evaluates router's built-in queries, rendered for SampleVars, with
// Prometheus's own engine over the series s gives.
func CheckBuiltinQueries(t *testing.T, router providers.Router, s BuiltinSeries) {
	t.Helper()
	success := RenderBuiltin(t, router, trancheapi.BuiltinRequestSuccessRate)
	duration := RenderBuiltin(t, router, trancheapi.BuiltinRequestDuration)
	groups := []PromTestGroup{{
		Name: "the canary's requests", Interval: "1m", InputSeries: s.Canary,
		PromQLExprTest: []PromExprTest{Expect(success, Value(75)), Expect(duration, Value(280))},
	}, {
		Name: "a canary failing every request reads 0, not no data", Interval: "1m", InputSeries: s.Failing,
		PromQLExprTest: []PromExprTest{Expect(success, Value(0))},
	}, {
		Name: "no series of the canary: no answer", Interval: "1m", InputSeries: s.Others,
		PromQLExprTest: []PromExprTest{Expect(success, nil), Expect(duration, nil)},
	}}
	if _, ok := providers.BuiltinQueries(router)[trancheapi.BuiltinTrafficShare]; ok {
		share := RenderBuiltin(t, router, trancheapi.BuiltinTrafficShare)
		groups[0].PromQLExprTest = append(groups[0].PromQLExprTest, Expect(share, Value(3.8)))
		groups[1].PromQLExprTest = append(groups[1].PromQLExprTest, Expect(share, Value(100)))
		groups[2].PromQLExprTest = append(groups[2].PromQLExprTest, Expect(share, Value(0)))
		groups = append(groups, PromTestGroup{
			Name: "no series of either: no share", Interval: "1m",
			InputSeries:    []PromSeries{PerMinute(`unrelated_requests_total{service="podinfo"}`, 60)},
			PromQLExprTest: []PromExprTest{Expect(share, nil)},
		})
	}
	if s.More != nil {
		groups = append(groups, s.More(success, duration)...)
	}
	CheckPromQL(t, groups)
}

// CheckPromQL runs the groups with `promtool test rules`: Prometheus's own engine evaluates
// each expression over the series given, with no server and no scraping.
func CheckPromQL(t *testing.T, groups []PromTestGroup) {
	t.Helper()
	promtool := findPromtool(t)
	data, err := json.Marshal(map[string]any{"rule_files": []string{}, "evaluation_interval": "1m", "tests": groups})
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "queries_test.yml")
	require.NoError(t, os.WriteFile(file, data, 0o600))
	out, err := exec.CommandContext(t.Context(), promtool, "test", "rules", file).CombinedOutput()
	require.NoError(t, err, "promtool test rules:\n%s", out)
}

// findPromtool finds the promtool that comes with Prometheus: on PATH, else where Debian's
// package puts it (`make prometheus` installs that package).
func findPromtool(t *testing.T) string {
	t.Helper()
	if path, err := exec.LookPath("promtool"); err == nil {
		return path
	}
	const debian = "/usr/bin/promtool"
	if _, err := os.Stat(debian); err == nil {
		return debian
	}
	require.FailNow(t, "promtool not found: install Prometheus (`make prometheus`), which comes with it")
	return ""
}
