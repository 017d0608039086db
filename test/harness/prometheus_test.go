package harness_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tranche-dev/tranche/test/harness"
)

func TestExporter(t *testing.T) {
	exporter, err := harness.NewExporter()
	require.NoError(t, err)
	defer exporter.Close()
	exporter.Serve("shop", "podinfo", 3, http.StatusInternalServerError, 30*time.Millisecond)
	exporter.Serve("shop", "podinfo", 0, http.StatusOK, 0)

	resp, err := http.Get("http://" + exporter.Address() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Contains(t, string(body), `tranche_test_requests_total{code="500",namespace="shop",service="podinfo"} 3`)
	assert.Contains(t, string(body), `tranche_test_requests_total{code="200",namespace="shop",service="podinfo"} 0`)
	assert.Contains(t, string(body), `tranche_test_request_duration_seconds_bucket{namespace="shop",service="podinfo",le="0.05"} 3`)
	assert.Contains(t, string(body), `tranche_test_request_duration_seconds_bucket{namespace="shop",service="podinfo",le="0.025"} 0`)
}

// TestPrometheus scrapes an exporter with a real Prometheus, takes the server away and gives
// it back with its address and data.
func TestPrometheus(t *testing.T) {
	exporter, err := harness.NewExporter()
	require.NoError(t, err)
	defer exporter.Close()
	exporter.Serve("shop", "podinfo", 1, http.StatusOK, time.Millisecond)
	prom, err := harness.StartPrometheus(harness.PrometheusOptions{Targets: []string{exporter.Address()}})
	require.NoError(t, err)
	defer func() { assert.NoError(t, prom.Stop()) }()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const series = `tranche_test_requests_total{service="podinfo"}`
	require.NoError(t, prom.WaitForSeries(ctx, series))
	assert.ErrorContains(t, prom.WaitForSeries(ctx, `sum(`), "refused the query")

	url := prom.URL()
	require.NoError(t, prom.Kill())
	_, err = http.Get(url + "/-/ready")
	require.Error(t, err, "the server still answers after Kill")
	require.NoError(t, prom.Restart())
	assert.Equal(t, url, prom.URL())
	short, cancelShort := context.WithTimeout(ctx, time.Second)
	defer cancelShort()
	assert.NoError(t, prom.WaitForSeries(short, series), "the data scraped before Kill is gone")
}

func TestPrometheusBasicAuth(t *testing.T) {
	prom, err := harness.StartPrometheus(harness.PrometheusOptions{BasicAuth: true})
	require.NoError(t, err)
	defer func() { assert.NoError(t, prom.Stop()) }()

	resp, err := http.Get(prom.URL() + "/api/v1/query?query=vector(1)")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	assert.NoError(t, prom.WaitForSeries(ctx, "vector(1)"), "the harness itself sends the credentials")
}
