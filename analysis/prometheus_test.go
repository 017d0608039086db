package analysis_test

import (
	"context"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tranche-dev/tranche/analysis"
	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
)

const testNamespace = "shop"

// errorRatio is what a MetricTemplate for a canary's error rate looks like. Raw counters
// rather than rate(): the exporter's counters never move after a test sets them, and
// rate() over a series that has just appeared has too few samples to be exact.
const errorRatio = `sum(tranche_test_requests_total{namespace="{{ .Namespace }}",service="{{ .Service }}",code=~"5.."})
  / sum(tranche_test_requests_total{namespace="{{ .Namespace }}",service="{{ .Service }}"})`

func newPrometheus(t *testing.T, cfg analysis.PrometheusConfig) *analysis.Prometheus {
	t.Helper()
	p, err := analysis.NewPrometheus(cfg)
	require.NoError(t, err)
	return p
}

// served records traffic for a service and waits until Prometheus has scraped all of it.
func served(t *testing.T, service string, ok, failed int) (analysis.Querier, analysis.Vars) {
	t.Helper()
	exporter, prom := realPrometheus(t)
	exporter.Serve(testNamespace, service, ok, http.StatusOK, 20*time.Millisecond)
	exporter.Serve(testNamespace, service, failed, http.StatusInternalServerError, 20*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Both codes' series, with every request: a scrape between the two Serve calls must not
	// count.
	seen := `count(tranche_test_requests_total{service="` + service + `"}) == 2 and on() sum(tranche_test_requests_total{service="` + service + `"}) == ` + strconv.Itoa(ok+failed)
	require.NoError(t, prom.WaitForSeries(ctx, seen))
	return newPrometheus(t, analysis.PrometheusConfig{Address: prom.URL()}), analysis.Vars{Namespace: testNamespace, Service: service, Interval: "1m"}
}

func query(t *testing.T, q analysis.Querier, tmpl string, vars analysis.Vars) (float64, error) {
	t.Helper()
	rendered, err := analysis.Render(tmpl, vars)
	require.NoError(t, err)
	return q.Query(context.Background(), rendered, time.Time{})
}

func TestPrometheusErrorRatio(t *testing.T) {
	q, vars := served(t, "checkout", 70, 30)
	v, err := query(t, q, errorRatio, vars)
	require.NoError(t, err)
	assert.InDelta(t, 0.3, v, 1e-9)

	max := 0.1
	check := analysis.Evaluate(context.Background(), q, mustRender(t, errorRatio, vars), time.Time{}, nil, &max)
	assert.Equal(t, trancheapi.VerdictFail, check.Verdict)
	assert.Equal(t, "0.3", check.ValueString())
}

func TestPrometheusResults(t *testing.T) {
	q, vars := served(t, "cart", 5, 0)
	idle, idleVars := served(t, "idle", 0, 0)

	t.Run("no data", func(t *testing.T) {
		_, err := query(t, q, `tranche_test_requests_total{service="nobody"}`, vars)
		assert.ErrorIs(t, err, analysis.ErrNoData)
	})
	t.Run("0/0 is NaN", func(t *testing.T) {
		v, err := query(t, idle, errorRatio, idleVars)
		require.NoError(t, err)
		assert.True(t, math.IsNaN(v), "got %v", v)
	})
	t.Run("scalar", func(t *testing.T) {
		v, err := query(t, q, `scalar(sum(tranche_test_requests_total{service="{{ .Service }}"}))`, vars)
		require.NoError(t, err)
		assert.Equal(t, 5.0, v)
	})
	t.Run("several series", func(t *testing.T) {
		_, err := query(t, idle, `tranche_test_requests_total{service="{{ .Service }}"}`, idleVars)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "2 series")
		assert.Contains(t, err.Error(), "sum(")
	})
	t.Run("range vector", func(t *testing.T) {
		_, err := query(t, q, `tranche_test_requests_total{service="{{ .Service }}",code="200"}[{{ .Interval }}]`, vars)
		assert.ErrorContains(t, err, "range vector")
	})
	t.Run("rendered range parses", func(t *testing.T) {
		_, err := query(t, q, `sum(rate(tranche_test_requests_total{service="{{ .Service }}"}[{{ .Interval }}]))`, vars)
		if err != nil {
			assert.ErrorIs(t, err, analysis.ErrNoData)
		}
	})
	t.Run("bad query", func(t *testing.T) {
		_, err := q.Query(context.Background(), `sum(`, time.Time{})
		assert.ErrorContains(t, err, "parse error")
	})
}

// TestPrometheusInjection sends a hostile name to the real PromQL parser: the rendered query
// must parse and compare the label with the name, not run the name's PromQL.
func TestPrometheusInjection(t *testing.T) {
	q, _ := served(t, "search", 1, 0)
	for _, name := range []string{
		`x"} or vector(42) or up{a="`,
		`x'} or vector(42) or up{a='`,
		`x\"} or vector(42) #`,
		"x\"}\nor vector(42)",
	} {
		for _, tmpl := range []string{
			`sum(tranche_test_requests_total{namespace="{{ .Namespace }}"}) or vector(0)`,
			`sum(tranche_test_requests_total{namespace='{{ .Namespace }}'}) or vector(0)`,
			`sum(tranche_test_requests_total{namespace=~"{{ .Namespace }}"}) or vector(0)`,
		} {
			v, err := query(t, q, tmpl, analysis.Vars{Namespace: name})
			require.NoError(t, err, "%s with %q", tmpl, name)
			assert.Equal(t, 0.0, v, "%s with %q", tmpl, name)
		}
	}
}

func TestPrometheusBasicAuth(t *testing.T) {
	prom := startPrometheus(t, harness.PrometheusOptions{BasicAuth: true})
	right := newPrometheus(t, analysis.PrometheusConfig{Address: prom.URL(), Username: harness.PrometheusUsername, Password: harness.PrometheusPassword})
	v, err := right.Query(context.Background(), "vector(1)", time.Time{})
	require.NoError(t, err)
	assert.Equal(t, 1.0, v)

	const wrongPassword = "not-the-password-0123"
	for name, cfg := range map[string]analysis.PrometheusConfig{
		"wrong password": {Address: prom.URL(), Username: harness.PrometheusUsername, Password: wrongPassword},
		"none":           {Address: prom.URL()},
	} {
		_, err := newPrometheus(t, cfg).Query(context.Background(), "vector(1)", time.Time{})
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "401", name)
		assert.NotContains(t, err.Error(), wrongPassword, name)
	}
}

// TestPrometheusBearerToken checks the header with a stand-in server: Prometheus itself has
// no bearer authentication, the proxies in front of it do.
func TestPrometheusBearerToken(t *testing.T) {
	const token = "secret-token-4242"
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" || r.Header.Get("Authorization") != "Bearer "+token {
			// Some proxies echo what they refused; the client must not repeat it.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"status":"error","errorType":"unauthorized","error":"bad header: ` + r.Header.Get("Authorization") + `"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"0.25"]}]}}`))
	}))
	defer server.Close()

	v, err := newPrometheus(t, analysis.PrometheusConfig{Address: server.URL, BearerToken: token}).
		Query(context.Background(), "up", time.Time{})
	require.NoError(t, err)
	assert.Equal(t, 0.25, v)

	const wrong = "wrong-token-9999"
	_, err = newPrometheus(t, analysis.PrometheusConfig{Address: server.URL, BearerToken: wrong}).
		Query(context.Background(), "up", time.Time{})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), wrong)
}

func TestPrometheusTimeout(t *testing.T) {
	release := make(chan struct{})
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer server.Close()
	defer close(release)

	p := newPrometheus(t, analysis.PrometheusConfig{Address: server.URL, Timeout: 200 * time.Millisecond})
	start := time.Now()
	_, err := p.Query(context.Background(), "up", time.Time{})
	require.Error(t, err)
	assert.Less(t, time.Since(start), 2*time.Second)
}

// TestPrometheusDown takes a real Prometheus away and gives it back: an unreachable server
// is an error and an Inconclusive check, never a Pass.
func TestPrometheusDown(t *testing.T) {
	prom := startPrometheus(t, harness.PrometheusOptions{})
	q := newPrometheus(t, analysis.PrometheusConfig{Address: prom.URL(), Timeout: 2 * time.Second})
	max := 1.0
	require.Equal(t, trancheapi.VerdictPass, analysis.Evaluate(context.Background(), q, "vector(0)", time.Time{}, nil, &max).Verdict)

	require.NoError(t, prom.Kill())
	_, err := q.Query(context.Background(), "vector(0)", time.Time{})
	require.Error(t, err)
	check := analysis.Evaluate(context.Background(), q, "vector(0)", time.Time{}, nil, &max)
	assert.Equal(t, trancheapi.VerdictInconclusive, check.Verdict)
	assert.Error(t, check.Err)
	assert.False(t, check.HasValue)

	require.NoError(t, prom.Restart())
	assert.Equal(t, trancheapi.VerdictPass, analysis.Evaluate(context.Background(), q, "vector(0)", time.Time{}, nil, &max).Verdict)
}

func TestNewPrometheusRefuses(t *testing.T) {
	for name, cfg := range map[string]analysis.PrometheusConfig{
		"empty":             {},
		"no scheme":         {Address: "prometheus:9090"},
		"ftp":               {Address: "ftp://prometheus:9090"},
		"no host":           {Address: "http://"},
		"not a URL":         {Address: "http://[::1"},
		"credentials twice": {Address: "http://p:9090", BearerToken: "t", Password: "p"},
		"negative timeout":  {Address: "http://p:9090", Timeout: -time.Second},
	} {
		_, err := analysis.NewPrometheus(cfg)
		assert.Error(t, err, name)
	}
	_, err := analysis.NewPrometheus(analysis.PrometheusConfig{Address: "http://admin:hunter22@p:9090"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter22")
}

// TestClientsShareConnections makes a client per query, as the reconciler does, and counts
// the connections that reach the real Prometheus (through a proxy that counts them): the
// clients share them. A connection per client stays open until it idles out, and Prometheus
// makes every query wait once 512 are open.
func TestClientsShareConnections(t *testing.T) {
	_, prom := realPrometheus(t)
	upstream, err := url.Parse(prom.URL())
	require.NoError(t, err)
	var opened atomic.Int64
	proxy := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(upstream))
	proxy.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			opened.Add(1)
		}
	}
	proxy.Start()
	t.Cleanup(proxy.Close)

	const clients = 50
	for range clients {
		q := newPrometheus(t, analysis.PrometheusConfig{Address: proxy.URL})
		_, err := q.Query(context.Background(), "vector(1)", time.Time{})
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, opened.Load(), int64(2), "%d clients opened %d connections", clients, opened.Load())
}

// TestPrometheusRangeAnswersAsQueryDoes asks a range query and, at each of its times, the
// same query alone: the answers are the same, and so are the errors.
func TestPrometheusRangeAnswersAsQueryDoes(t *testing.T) {
	q, vars := served(t, "orders", 9, 1)
	prom := q.(*analysis.Prometheus)
	ctx := context.Background()
	// Times off the millisecond, which Prometheus rounds (half a millisecond up here): the
	// answers must still be found at the times asked about.
	end := time.Now().Truncate(time.Second).Add(700*time.Microsecond + 123)
	start := end.Add(-4 * time.Second)
	for _, tmpl := range []string{
		errorRatio,
		`tranche_test_requests_total{service="{{ .Service }}"}`, // two series: an error at each time
		`tranche_test_requests_total{service="nobody"}`,         // no data
	} {
		query := mustRender(t, tmpl, vars)
		values, err := prom.QueryRange(ctx, query, start, end, time.Second)
		require.NoError(t, err)
		for at := start; !at.After(end); at = at.Add(time.Second) {
			want, wantErr := prom.Query(ctx, query, at)
			got, gotErr := values.At(at)
			if wantErr != nil {
				assert.EqualError(t, gotErr, wantErr.Error(), "%s at %s", query, at)
				continue
			}
			require.NoError(t, gotErr, "%s at %s", query, at)
			assert.Equal(t, want, got, "%s at %s", query, at)
		}
	}
	_, err := prom.QueryRange(ctx, errorRatio, end, start, time.Second)
	assert.ErrorContains(t, err, "is not a range Prometheus answers")
}
