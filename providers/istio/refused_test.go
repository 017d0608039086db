package istio_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/istio"
	"github.com/tranche-dev/tranche/providers/traffic"
	"github.com/tranche-dev/tranche/test/harness"
)

// What istiod refuses, the API server refuses first: for each Istio block, the objects the
// router would write for it (built in memory, at a 5% split) go to Istio's own validation,
// and the Rollout to the API server. When istiod would refuse them, the API server refuses
// the Rollout, naming the field; when istiod takes them, the API server takes the Rollout.
// Each case also says which way istiod goes, so that the table keeps covering both.
func TestWhatIstiodRefusesTheAPIServerRefusesFirst(t *testing.T) {
	ms := func(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }
	cases := []struct {
		name          string
		set           func(p *trancheapi.IstioProvider)
		istiodRefuses bool
		field         string // named by the API server's refusal
	}{
		{"the test's block", func(p *trancheapi.IstioProvider) {}, false, ""},
		{"a timeout under a millisecond", func(p *trancheapi.IstioProvider) { p.Timeout = ms(500 * time.Microsecond) }, true, "istio.timeout"},
		{"a timeout finer than a millisecond", func(p *trancheapi.IstioProvider) { p.Timeout = ms(1500 * time.Microsecond) }, true, "istio.timeout"},
		{"a timeout of one millisecond", func(p *trancheapi.IstioProvider) { p.Timeout = ms(time.Millisecond) }, false, ""},
		{"a per-try timeout under a millisecond", func(p *trancheapi.IstioProvider) { p.Retries.PerTryTimeout = ms(100 * time.Microsecond) }, true, "retries.perTryTimeout"},
		{"an unknown retry condition", func(p *trancheapi.IstioProvider) { p.Retries.RetryOn = "5xx,bogus" }, true, "retries.retryOn"},
		{"a retry condition with a space", func(p *trancheapi.IstioProvider) { p.Retries.RetryOn = "5xx, reset" }, true, "retries.retryOn"},
		{"a status code HTTP does not have", func(p *trancheapi.IstioProvider) { p.Retries.RetryOn = "599" }, true, "retries.retryOn"},
		{"gRPC's conditions and status codes", func(p *trancheapi.IstioProvider) {
			p.Retries.RetryOn = "unavailable,cancelled,deadline-exceeded,internal,resource-exhausted,503,429,retriable-status-codes"
		}, false, ""},
		{"retry conditions without attempts", func(p *trancheapi.IstioProvider) { p.Retries.Attempts = 0 }, true, "retries.attempts"},
		{"no attempts and nothing else", func(p *trancheapi.IstioProvider) {
			p.Retries = &trancheapi.IstioRetries{Attempts: 0}
		}, false, ""},
		{"an ejection sweep under a millisecond", func(p *trancheapi.IstioProvider) {
			p.TrafficPolicy.OutlierDetection.Interval = ms(10 * time.Microsecond)
		}, true, "outlierDetection.interval"},
		{"an ejection time finer than a millisecond", func(p *trancheapi.IstioProvider) {
			p.TrafficPolicy.OutlierDetection.BaseEjectionTime = ms(30*time.Second + time.Microsecond)
		}, true, "outlierDetection.baseEjectionTime"},
		{"a host that is not a DNS name", func(p *trancheapi.IstioProvider) { p.Hosts = []string{"cart_service"} }, true, "istio.hosts"},
		{"a host whose last label is all digits", func(p *trancheapi.IstioProvider) { p.Hosts = []string{"cart.v2.123"} }, true, "istio.hosts"},
		{"hosts as names, wildcards and an address", func(p *trancheapi.IstioProvider) {
			p.Hosts = []string{"cart", "cart.shop.svc.cluster.local", "*.example.com", "192.0.2.10"}
		}, false, ""},
		{"the wildcard host inside the mesh", func(p *trancheapi.IstioProvider) { p.Hosts = []string{"*"} }, true, "istio.hosts"},
		{"the wildcard host at a gateway", func(p *trancheapi.IstioProvider) {
			p.Hosts, p.Gateways = []string{"*"}, []string{"istio-system/public"}
		}, false, ""},
		{"a gateway that is not a name", func(p *trancheapi.IstioProvider) { p.Gateways = []string{"istio-system/public_gw"} }, true, "istio.gateways"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ro := newRollout(t)
			tc.set(ro.Spec.Provider.Istio)
			verdicts, err := harness.IstioValidate(written(t, ro))
			require.NoError(t, err)
			var refusals []string
			for _, v := range verdicts {
				if v.Error != "" {
					refusals = append(refusals, v.Kind+": "+v.Error)
				}
			}
			require.Equal(t, tc.istiodRefuses, len(refusals) > 0, "istiod's verdict: %v", refusals)

			err = cp.Client.Create(t.Context(), ro)
			if !tc.istiodRefuses {
				require.NoError(t, err, "the API server refused what istiod takes")
				return
			}
			require.Error(t, err, "the API server took what istiod refuses: %s", strings.Join(refusals, "; "))
			assert.Contains(t, err.Error(), tc.field)
		})
	}
}

// written is what the router writes for the Rollout at a 5% split: the VirtualService and
// both DestinationRules.
func written(t *testing.T, ro *trancheapi.Rollout) []*unstructured.Unstructured {
	t.Helper()
	vs := virtualService(ro)
	require.NoError(t, istio.SetVirtualService(vs, ro, traffic.Routes{CanaryWeight: 5}))
	objects := []*unstructured.Unstructured{vs}
	primary, canary := destinationRules(ro)
	names := ro.ServiceNames()
	require.NoError(t, istio.SetDestinationRule(primary, ro, names.Primary))
	require.NoError(t, istio.SetDestinationRule(canary, ro, names.Canary))
	return append(objects, primary, canary)
}
