package stack

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func sample(sec float64, weight int32, primary, canary, failed float64) Sample {
	return Sample{
		At:     time.Unix(0, 0).Add(time.Duration(sec * float64(time.Second))),
		Weight: weight,
		Plane:  PlaneCounts{Primary: primary, Canary: canary, CanaryFailed: failed, Seen: true},
	}
}

func TestBetween(t *testing.T) {
	tests := []struct {
		name                string
		a, b                Sample
		share, errorRate    float64
		primary, canaryReqs float64
	}{
		{"a 5% split", sample(0, 5, 100, 0, 0), sample(1, 5, 195, 5, 1), 5, 20, 95, 5},
		{"nothing measured", sample(0, 5, 100, 5, 0), sample(1, 5, 100, 5, 0), -1, -1, 0, 0},
		{"all to the primary", sample(0, 0, 0, 7, 0), sample(1, 0, 50, 7, 0), 0, -1, 50, 0},
		{"counters reset by a restart", sample(0, 50, 1000, 1000, 10), sample(1, 50, 20, 20, 2), 50, 10, 20, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := Between(tt.a, tt.b)
			assert.Equal(t, tt.primary, w.Primary)
			assert.Equal(t, tt.canaryReqs, w.Canary)
			assert.InDelta(t, tt.share, w.CanaryShare(), 1e-9)
			assert.InDelta(t, tt.errorRate, w.CanaryErrorRate(), 1e-9)
		})
	}
}

func TestCanaryTrafficNamesTheWindowsTheCanaryTookRequestsIn(t *testing.T) {
	samples := []Sample{sample(0, 0, 100, 0, 0), sample(1, 0, 200, 0, 0), sample(2, 5, 290, 10, 0), sample(3, 0, 390, 10, 0)}
	got := CanaryTraffic(samples)
	assert.Equal(t, 1, strings.Count(got, "\n"), got)
	assert.Contains(t, got, "10 to the canary, 90 to the primary")
	assert.Empty(t, CanaryTraffic(samples[:2]))
}

func TestServerFailure(t *testing.T) {
	for line, failed := range map[string]bool{
		`traefik_service_requests_total{code="200",method="GET",protocol="http",service="s"} 9`: false,
		`traefik_service_requests_total{code="502",method="GET",protocol="http",service="s"} 9`: true,
		`traefik_service_requests_total{code="404",method="GET",protocol="http",service="s"} 9`: false,
		`traefik_service_requests_total{code="13",method="POST",protocol="grpc",service="s"} 9`: true,
		`traefik_service_requests_total{code="14",method="POST",protocol="grpc",service="s"} 9`: true,
		`traefik_service_requests_total{code="5",method="POST",protocol="grpc",service="s"} 9`:  false, // NOT_FOUND: the client's
		`traefik_service_requests_total{code="2",method="POST",protocol="grpc",service="s"} 9`:  false, // every answered call, to Traefik 3.7
		`traefik_service_requests_total{code="0",method="POST",protocol="grpc",service="s"} 9`:  false,
	} {
		assert.Equal(t, failed, serverFailure(line), line)
	}
}

func TestReadPlaneCountsReadsTheRoutesOfBothKinds(t *testing.T) {
	metrics := `traefik_service_requests_total{code="200",method="GET",protocol="http",service="httproute-e2e-shop-gw-e2e-public-ep-web-0-1a2b-svc-e2e-shop-primary-0@kubernetesgateway"} 90
traefik_service_requests_total{code="502",method="GET",protocol="http",service="httproute-e2e-shop-gw-e2e-public-ep-web-0-1a2b-svc-e2e-shop-canary-0@kubernetesgateway"} 10
traefik_service_requests_total{code="13",method="POST",protocol="grpc",service="grpcroute-e2e-rpc-gw-e2e-public-ep-web-0-3c4d-svc-e2e-rpc-canary-0@kubernetesgateway"} 4
traefik_service_requests_total{code="2",method="POST",protocol="grpc",service="grpcroute-e2e-rpc-gw-e2e-public-ep-web-0-3c4d-svc-e2e-rpc-primary-0@kubernetesgateway"} 36
traefik_service_requests_total{code="200",method="GET",protocol="http",service="httproute-e2e-other-gw-e2e-public-ep-web-0-5e6f-svc-e2e-other-canary-0@kubernetesgateway"} 1000
`
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(metrics)) }))
	defer server.Close()
	assert.Equal(t, PlaneCounts{Seen: true, Primary: 90, Canary: 10, CanaryFailed: 10}, ReadPlaneCounts(t.Context(), server.URL, "e2e", "shop", "shop"))
	assert.Equal(t, PlaneCounts{Seen: true, Primary: 36, Canary: 4, CanaryFailed: 4}, ReadPlaneCounts(t.Context(), server.URL, "e2e", "rpc", "rpc"))
}
