//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/stack"
)

// grpcCallsPerSecond is the gRPC clients' load: at 5% the canary gets ten calls a second.
const grpcCallsPerSecond = 200

// grpcSuccessRate is the canary's share of calls answered OK, in percent, from the gRPC
// servers' own counters: proxyless clients report nothing to Istio's telemetry.
const grpcSuccessRate = `100 * sum(rate(grpc_server_handled_total{namespace="{{ .Namespace }}", pod=~"{{ .Canary }}-[a-z0-9]+-[a-z0-9]+", grpc_code="OK"}[{{ .Interval }}]))
  / sum(rate(grpc_server_handled_total{namespace="{{ .Namespace }}", pod=~"{{ .Canary }}-[a-z0-9]+-[a-z0-9]+"}[{{ .Interval }}]))`

// grpcApp is the demo app's gRPC flavour at a version, its pods scraped by Prometheus.
func grpcApp(name, version string, args ...string) *appsv1.Deployment {
	d := stack.App(namespace, name, version, append([]string{"--grpc"}, args...)...)
	d.Spec.Template.Annotations = map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": fmt.Sprint(stack.AppPort)}
	return d
}

// istioRollout walks the app through 5%, 50% and 100% of the calls to its Service with the
// istio provider, judged by the servers' success rate.
func istioRollout(t *testing.T, app string, hold, interval time.Duration) *trancheapi.Rollout {
	t.Helper()
	template := &trancheapi.MetricTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: app + "-grpc-success-rate"},
		Spec:       trancheapi.MetricTemplateSpec{Query: grpcSuccessRate},
	}
	require.NoError(t, s.ControlPlane.Client.Create(context.Background(), template))
	t.Cleanup(func() { _ = s.ControlPlane.Client.Delete(context.Background(), template) })
	ro := stack.CanaryRollout(namespace, app, "", hold, interval)
	ro.Spec.Provider = trancheapi.Provider{Istio: &trancheapi.IstioProvider{}}
	ro.Spec.Analysis.Metrics = []trancheapi.Metric{{
		Name: "grpc-success-rate", TemplateRef: &trancheapi.NamespacedObjectReference{Name: template.Name},
		Min: ptr.To(stack.MinSuccessPercent),
	}}
	return ro
}

// deployGRPC creates the gRPC app at v1 and its Rollout, waits until the Rollout is
// initialized and the proxyless clients' calls are answered, and starts their load.
func deployGRPC(t *testing.T, ro *trancheapi.Rollout) *stack.Load {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := s.ControlPlane.Client
	app := grpcApp(ro.Name, "v1")
	require.NoError(t, c.Create(ctx, app))
	require.NoError(t, c.Create(ctx, ro))
	t.Cleanup(func() {
		_ = c.Delete(context.Background(), ro)
		_ = c.Delete(context.Background(), app)
	})
	_, err := stack.WaitForPhase(ctx, c, namespace, ro.Name, time.Minute, trancheapi.PhaseInitialized)
	require.NoError(t, err)
	load, err := s.StartGRPCLoad(ctx, s.GRPCTarget(ro.Name), grpcCallsPerSecond, nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return load.Counts().ByVersion["v1"] >= 50 }, 30*time.Second, 100*time.Millisecond,
		"the proxyless clients' calls were not answered through istiod's routes: %+v\n%s", load.Counts(), s.Istiod.LogTail())
	return load
}

func TestIstioCanaryThroughIstiodAndProxylessGRPC(t *testing.T) {
	const app = "inventory"
	load := deployGRPC(t, istioRollout(t, app, 10*time.Second, 3*time.Second))
	release := func(version string, args ...string) ([]stack.Sample, *trancheapi.Rollout) {
		return recordRelease(t, app, load, "", func(ctx context.Context) error {
			return stack.Release(ctx, s.ControlPlane.Client, namespace, app, version, append([]string{"--grpc"}, args...)...)
		})
	}

	good, ro := release("v2")
	require.Equal(t, trancheapi.PhaseSucceeded, ro.Status.Phase, "%s; the last checks: %+v", ro.Status.Message, ro.Status.LastChecks)
	requireCheckPassed(t, ro, "grpc-success-rate")
	shares := clientShares(good, "v2")
	t.Logf("canary share the clients measured, by weight: %v", shares)
	for _, weight := range []int32{5, 50, 100} {
		if assert.Contains(t, shares, weight, "no steady stretch at %d%%", weight) {
			assert.InDelta(t, float64(weight), shares[weight], 3, "istiod's split at %d%%, as the clients saw it", weight)
		}
	}
	whole := stack.Between(good[0], good[len(good)-1]).Clients
	assert.Zero(t, whole.Failed, "calls failed during a healthy release:\n%s", stack.FailuresDuring(load, good))
	fmt.Printf("BENCH e2e_istio_share_5=%.1f e2e_istio_share_50=%.1f e2e_istio_share_100=%.1f\n", shares[5], shares[50], shares[100])

	bad, ro := release("v3", "--error-rate=0.3")
	require.Equal(t, trancheapi.PhaseFailed, ro.Status.Phase, ro.Status.Message)
	assert.NotContains(t, weightsOf(bad), int32(50), "rolled back at the first step")
	failed, i := firstAt(bad, trancheapi.PhaseFailed)
	require.GreaterOrEqual(t, i, 0)
	during := stack.Between(bad[0], failed)
	fmt.Printf("BENCH e2e_istio_bad_calls=%d e2e_istio_rollback_seconds=%.1f\n", during.Clients.Failed, failed.At.Sub(bad[0].At).Seconds())
	assert.Positive(t, during.Clients.Failed, "the bad canary failed calls")
	after := stack.Between(bad[len(bad)-3], bad[len(bad)-1]).Clients
	assert.Equal(t, map[string]int{"v2": after.Sent}, after.ByVersion, "after the rollback, v2 answers every call")
}

// clientShares is the share of the calls the canary version answered in each step of a
// weight, as the clients counted them (see settledWindows).
func clientShares(samples []stack.Sample, canary string) map[int32]float64 {
	shares := map[int32]float64{}
	for weight, w := range settledWindows(samples) {
		if answered := w.Clients.Sent - w.Clients.Failed; answered >= 100 {
			shares[weight] = 100 * float64(w.Clients.ByVersion[canary]) / float64(answered)
		}
	}
	return shares
}

// requireCheckPassed fails unless the metric's latest check passed on a measured value.
func requireCheckPassed(t *testing.T, ro *trancheapi.Rollout, metric string) {
	t.Helper()
	for _, check := range ro.Status.LastChecks {
		if check.Metric == metric {
			require.Equal(t, trancheapi.VerdictPass, check.Verdict, "%s: %s", metric, check.Message)
			require.NotEmpty(t, check.Value, "%s passed without a value", metric)
			t.Logf("%s: %s", metric, check.Value)
			return
		}
	}
	require.Failf(t, "no check", "no check of %s: %+v", metric, ro.Status.LastChecks)
}
