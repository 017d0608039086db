//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/metadata"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
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
	// The demo app serves its metrics on the port after the gRPC one.
	d.Spec.Template.Annotations = map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": fmt.Sprint(stack.AppPort + 1)}
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
	createInitialized(t, ro, grpcApp(ro.Name, "v1"))
	load, err := s.StartGRPCLoad(ctx, s.GRPCTarget(ro.Name), grpcCallsPerSecond, stack.GRPCClient{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return load.Counts().ByVersion["v1"] >= 50 }, 30*time.Second, 100*time.Millisecond,
		"the proxyless clients' calls were not answered through istiod's routes: %+v\n%s", load.Counts(), s.Istiod.LogTail())
	return load
}

func TestIstioCanaryThroughIstiodAndProxylessGRPC(t *testing.T) {
	const app = "inventory"
	load := deployGRPC(t, istioRollout(t, app, 10*time.Second, 3*time.Second))
	walkThenRollBackGRPC(t, app, load, grpcRelease{metric: "grpc-success-rate", bench: "e2e_istio", whose: "istiod's split"})
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

// Through istiod, an A/B step sends every call that carries the step's header (gRPC
// metadata) to the canary and none of the others.
func TestIstioABStepSendsTheMatchingCallsAndOnlyThoseToTheCanary(t *testing.T) {
	const app = "pricing"
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := s.ControlPlane.Client
	ro := istioRollout(t, app, 8*time.Second, 2*time.Second)
	ro.Spec.Steps = []trancheapi.Step{testerStep(8 * time.Second)}
	others := deployGRPC(t, ro)
	testers, err := s.StartGRPCLoad(ctx, s.GRPCTarget(app), grpcCallsPerSecond/2, stack.GRPCClient{Metadata: metadata.Pairs("x-tester", "insider")})
	require.NoError(t, err)
	require.NoError(t, stack.Release(ctx, c, namespace, app, "v2", "--grpc"))

	requireABSplit(t, app, testers, others, 2*time.Second) // istiod pushes the route; the clients take it

	promoted := waitForEnd(t, app, "", time.Minute)
	require.Equal(t, trancheapi.PhaseSucceeded, promoted.Status.Phase, promoted.Status.Message)
}

// The Rollout's retries and timeout reach the proxyless clients through istiod: gRPC's own
// retry conditions retry the calls the app fails with INTERNAL, Envoy's HTTP conditions
// (5xx) do nothing for gRPC clients, and the timeout ends calls the app answers too slowly.
func TestIstioRetriesAndTimeoutReachTheClients(t *testing.T) {
	const app = "ledger"
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := s.ControlPlane.Client
	ro := istioRollout(t, app, 10*time.Second, 2*time.Second)
	// Half of the calls fail, each after 50 ms.
	createInitialized(t, ro, grpcApp(app, "v1", "--error-rate=0.5", "--latency=50ms"))
	load, err := s.StartGRPCLoad(ctx, s.GRPCTarget(app), grpcCallsPerSecond, stack.GRPCClient{})
	require.NoError(t, err)

	// failedShare sets the Rollout's Istio options, waits for istiod to push them and the
	// clients to take them, and returns the share of calls that failed over four seconds.
	failedShare := func(what string, set func(*trancheapi.IstioProvider)) float64 {
		t.Helper()
		require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
			current := &trancheapi.Rollout{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(ro), current); err != nil {
				return err
			}
			set(current.Spec.Provider.Istio)
			return c.Update(ctx, current)
		}))
		time.Sleep(3 * time.Second)
		before := load.Counts()
		time.Sleep(4 * time.Second)
		calls := load.Counts().Minus(before)
		require.Greater(t, calls.Sent, 300, "%s: %+v", what, calls)
		share := float64(calls.Failed) / float64(calls.Sent)
		t.Logf("%s: %d of %d calls failed (%.1f%%)", what, calls.Failed, calls.Sent, 100*share)
		return share
	}
	none := failedShare("no retries", func(p *trancheapi.IstioProvider) { p.Retries, p.Timeout = nil, nil })
	assert.InDelta(t, 0.5, none, 0.1, "half of the calls fail without retries")
	// Three retries: a call fails only when four tries in a row do, 1 in 16.
	grpcRetries := failedShare("3 retries on internal", func(p *trancheapi.IstioProvider) {
		p.Retries = &trancheapi.IstioRetries{Attempts: 3, RetryOn: "internal"}
	})
	assert.Less(t, grpcRetries, 0.15, "gRPC's condition internal retries the failed calls")
	envoyRetries := failedShare("3 retries on 5xx", func(p *trancheapi.IstioProvider) {
		p.Retries = &trancheapi.IstioRetries{Attempts: 3, RetryOn: "5xx"}
	})
	assert.InDelta(t, 0.5, envoyRetries, 0.1, "Envoy's condition 5xx means nothing to a gRPC client")
	timedOut := failedShare("a 20ms timeout", func(p *trancheapi.IstioProvider) {
		p.Retries, p.Timeout = nil, &metav1.Duration{Duration: 20 * time.Millisecond}
	})
	assert.Equal(t, 1.0, timedOut, "every call takes 50 ms: the 20 ms timeout ends them all")
	last, failed := load.LastFailure()
	require.True(t, failed)
	assert.Contains(t, last.Reason, "DeadlineExceeded", "the route's timeout ended the call")
}

// A mirror step through istiod: gRPC clients ignore the route's mirror (grpc-go implements no
// mirroring), so the canary gets no call at all while the step holds, and the clients are
// answered by the primary. The README says so; this shows it.
func TestIstioMirrorStepSendsProxylessClientsNothing(t *testing.T) {
	const app = "audit"
	ctx := context.Background()
	c := s.ControlPlane.Client
	ro := istioRollout(t, app, 6*time.Second, 2*time.Second)
	ro.Spec.Analysis = nil
	ro.Spec.Steps = []trancheapi.Step{{Weight: ptr.To[int32](0), Mirror: ptr.To[int32](100), Hold: &metav1.Duration{Duration: 6 * time.Second}}}
	load := deployGRPC(t, ro)
	require.NoError(t, stack.Release(ctx, c, namespace, app, "v2", "--grpc"))
	_, err := waitFor(app, time.Minute, func(ro *trancheapi.Rollout) bool {
		return ro.Status.Phase == trancheapi.PhaseProgressing && ro.Status.StepStartedAt != nil
	})
	require.NoError(t, err, "the mirror step never started")
	before := load.Counts()
	time.Sleep(3 * time.Second)
	calls := load.Counts().Minus(before)
	canaryCalls := canaryCallsAnswered(t, app)

	require.Positive(t, calls.Sent)
	assert.Equal(t, calls.Sent, calls.ByVersion["v1"], "the primary answers every client: %+v", calls)
	assert.Zero(t, canaryCalls, "gRPC clients mirror nothing to the canary")
}

// canaryCallsAnswered is the calls the canary's pods (the app's own Deployment's) counted, read
// from each pod's metrics.
func canaryCallsAnswered(t *testing.T, app string) int {
	t.Helper()
	var pods corev1.PodList
	require.NoError(t, s.ControlPlane.Client.List(context.Background(), &pods, client.InNamespace(namespace), client.MatchingLabels{"app": app}))
	total, seen := 0, 0
	for i := range pods.Items {
		pod := &pods.Items[i]
		if !strings.HasPrefix(pod.Name, app+"-") || strings.HasPrefix(pod.Name, app+"-primary-") {
			continue
		}
		addr, ok := s.Apps.Address(pod)
		if !ok {
			continue
		}
		host, port, err := net.SplitHostPort(addr)
		require.NoError(t, err)
		n, err := strconv.Atoi(port)
		require.NoError(t, err)
		resp, err := http.Get("http://" + net.JoinHostPort(host, strconv.Itoa(n+1)) + "/metrics")
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		seen++
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "grpc_server_handled_total{") {
				fields := strings.Fields(line)
				count, err := strconv.ParseFloat(fields[len(fields)-1], 64)
				require.NoError(t, err)
				total += int(count)
			}
		}
	}
	require.Positive(t, seen, "no canary pod runs")
	return total
}

// The Rollout's trafficPolicy tls ISTIO_MUTUAL goes through istiod to the clients: the app's
// pods take mutual TLS only (as sidecars in strict mode would), so the clients' calls fail
// until the Rollout asks for it, and then succeed, through a whole canary, to the primary's
// pods and the canary's alike, each checked against its SPIFFE name (a server certificate
// naming another service account fails every call).
func TestIstioMutualTLSReachesTheClients(t *testing.T) {
	const app, account = "vault", "vault"
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := s.ControlPlane.Client
	ca, err := harness.NewMeshCA()
	require.NoError(t, err)
	dir := t.TempDir()
	server, err := ca.Issue(filepath.Join(dir, "server"), namespace, account)
	require.NoError(t, err)
	clients, err := ca.Issue(filepath.Join(dir, "client"), namespace, "tester")
	require.NoError(t, err)

	ro := istioRollout(t, app, 6*time.Second, 2*time.Second)
	deployment := grpcApp(app, "v1", "--tls-dir="+server.Dir)
	// istiod checks a pod against the SPIFFE name of its service account.
	deployment.Spec.Template.Spec.ServiceAccountName = account
	createInitialized(t, ro, deployment)
	load, err := s.StartGRPCLoad(ctx, s.GRPCTarget(app), grpcCallsPerSecond, stack.GRPCClient{Identity: &clients})
	require.NoError(t, err)

	window := func() stack.LoadCounts {
		before := load.Counts()
		time.Sleep(3 * time.Second)
		return load.Counts().Minus(before)
	}
	require.Eventually(t, func() bool { return load.Counts().Failed > 50 }, 30*time.Second, 100*time.Millisecond)
	plain := window()
	assert.Equal(t, plain.Sent, plain.Failed, "without ISTIO_MUTUAL, the clients call in plaintext and the pods refuse: %+v", plain)

	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current := &trancheapi.Rollout{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(ro), current); err != nil {
			return err
		}
		current.Spec.Provider.Istio.TrafficPolicy = &trancheapi.IstioTrafficPolicy{TLS: &trancheapi.IstioTLS{Mode: "ISTIO_MUTUAL"}}
		return c.Update(ctx, current)
	}))
	require.Eventually(t, func() bool { return load.Counts().ByVersion["v1"] > 50 }, 30*time.Second, 100*time.Millisecond,
		"the clients never called with mutual TLS: %+v", load.Counts())
	time.Sleep(time.Second)
	mutual := window()
	require.Positive(t, mutual.Sent)
	assert.Zero(t, mutual.Failed, "with ISTIO_MUTUAL every call is answered: %+v", mutual)

	// Clients of their own for the release, whose failures (none, it is hoped) are the
	// release's only.
	load, err = s.StartGRPCLoad(ctx, s.GRPCTarget(app), grpcCallsPerSecond, stack.GRPCClient{Identity: &clients})
	require.NoError(t, err)
	samples, ended := recordRelease(t, app, &stack.Recorder{Load: load}, func(ctx context.Context) error {
		return stack.Release(ctx, c, namespace, app, "v2", "--grpc", "--tls-dir="+server.Dir)
	})
	require.Equal(t, trancheapi.PhaseSucceeded, ended.Status.Phase, ended.Status.Message)
	whole := stack.Between(samples[0], samples[len(samples)-1]).Clients
	assert.Zero(t, whole.Failed, "calls failed on the way to the canary's pods:\n%s", stack.FailuresDuring(load, samples))
	assert.Positive(t, whole.ByVersion["v2"], "the canary answered with mutual TLS")
}
