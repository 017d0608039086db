//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/metadata"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/stack"
)

// grpcRouteRollout is the demo's canary Rollout for a gRPC service: through Traefik's
// Gateway, its route is a GRPCRoute, and the built-in success rate counts the calls' gRPC
// statuses as Traefik reports them.
func grpcRouteRollout(app, host string, hold, interval time.Duration) *trancheapi.Rollout {
	ro := stack.CanaryRollout(namespace, app, host, hold, interval)
	ro.Spec.Service.Protocol = trancheapi.ProtocolGRPC
	return ro
}

// deployGRPCThroughTraefik creates the gRPC app at v1 and its Rollout, and starts gRPC
// clients calling it through Traefik once the GRPCRoute serves.
func deployGRPCThroughTraefik(t *testing.T, ro *trancheapi.Rollout, host string, calls stack.GatewayCalls) *stack.Load {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	createInitialized(t, ro, grpcApp(ro.Name, "v1"))
	require.NoError(t, stack.WaitGRPCServed(ctx, s.Traefik.WebURL(), host, 30*time.Second))
	load, err := stack.StartGRPCLoadThroughGateway(ctx, s.Traefik.WebURL(), host, grpcCallsPerSecond, calls)
	require.NoError(t, err)
	return load
}

// A gRPC service through Traefik's GRPCRoute: a good version walked 5/50/100 with each
// step's share of calls within 3 points as the clients counted them and no call failed; a
// version failing 30% of its calls with INTERNAL rolled back at the first step by the
// built-in success rate, which reads the gRPC statuses Traefik counts.
func TestAGRPCServiceThroughTraefiksGRPCRoute(t *testing.T) {
	const app, host = "quotes", "quotes.e2e.test"
	load := deployGRPCThroughTraefik(t, grpcRouteRollout(app, host, 6*time.Second, 2*time.Second), host, stack.GatewayCalls{})
	walkThenRollBackGRPC(t, app, load, grpcRelease{metricsURL: s.Traefik.MetricsURL(), metric: "success-rate", bench: "e2e_grpcroute", whose: "Traefik's GRPCRoute split"})
}

// grpcRelease says how a gRPC app's releases are watched and reported.
type grpcRelease struct {
	metricsURL string // the data plane's counters, or "" where the clients are the data plane
	metric     string // the analysis's success rate
	bench      string // the BENCH lines' prefix
	whose      string // whose split the clients measured, for messages
}

// walkThenRollBackGRPC releases a good version of the gRPC app (v2), whose steps' shares of
// calls the clients must measure within 3 points with no call failed, then one failing 30%
// of its calls with INTERNAL (v3), which the success rate must roll back at the first step,
// and prints the shares, the failed calls and the time to the rollback.
func walkThenRollBackGRPC(t *testing.T, app string, load *stack.Load, r grpcRelease) {
	t.Helper()
	release := func(version string, args ...string) ([]stack.Sample, *trancheapi.Rollout) {
		return recordRelease(t, app, &stack.Recorder{Load: load, MetricsURL: r.metricsURL}, func(ctx context.Context) error {
			return stack.Release(ctx, s.ControlPlane.Client, namespace, app, version, append([]string{"--grpc"}, args...)...)
		})
	}

	good, ro := release("v2")
	require.Equal(t, trancheapi.PhaseSucceeded, ro.Status.Phase, "%s; the last checks: %+v", ro.Status.Message, ro.Status.LastChecks)
	requireCheckPassed(t, ro, r.metric)
	shares := clientShares(good, "v2")
	t.Logf("canary share the gRPC clients measured, by weight: %v", shares)
	assertSharesNear(t, shares, 3, r.whose+", as the clients saw it")
	whole := stack.Between(good[0], good[len(good)-1]).Clients
	assert.Zero(t, whole.Failed, "calls failed during a healthy release:\n%s", stack.FailuresDuring(load, good))
	fmt.Printf("BENCH %s_share_5=%.1f %s_share_50=%.1f %s_share_100=%.1f\n", r.bench, shares[5], r.bench, shares[50], r.bench, shares[100])

	bad, ro := release("v3", "--error-rate=0.3")
	during := requireRolledBackAtFirstStep(t, bad, ro, "v2")
	assert.True(t, slices.ContainsFunc(ro.Status.LastChecks, func(c trancheapi.CheckResult) bool {
		return c.Metric == r.metric && c.Verdict == trancheapi.VerdictFail
	}), "%s failed the calls the app failed with INTERNAL: %+v", r.metric, ro.Status.LastChecks)
	fmt.Printf("BENCH %s_bad_calls=%d %s_rollback_seconds=%.1f\n", r.bench, during.Clients.Failed, r.bench, during.To.At.Sub(during.From.At).Seconds())
}

// Through Traefik's GRPCRoute, an A/B step sends every call that carries the step's header
// (gRPC metadata) to the canary and none of the others.
func TestAGRPCRouteABStepSendsTheMatchingCallsAndOnlyThoseToTheCanary(t *testing.T) {
	const app, host = "rates", "rates.e2e.test"
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ro := grpcRouteRollout(app, host, 8*time.Second, 2*time.Second)
	ro.Spec.Steps = []trancheapi.Step{testerStep(8 * time.Second)}
	others := deployGRPCThroughTraefik(t, ro, host, stack.GatewayCalls{})
	testers, err := stack.StartGRPCLoadThroughGateway(ctx, s.Traefik.WebURL(), host, grpcCallsPerSecond/2,
		stack.GatewayCalls{Metadata: metadata.Pairs("x-tester", "insider")})
	require.NoError(t, err)
	require.NoError(t, stack.Release(ctx, s.ControlPlane.Client, namespace, app, "v2", "--grpc"))

	requireABSplit(t, app, testers, others, 2*time.Second)

	promoted := waitForEnd(t, app, "", time.Minute)
	require.Equal(t, trancheapi.PhaseSucceeded, promoted.Status.Phase, promoted.Status.Message)
}

// Through Traefik's GRPCRoute, an A/B step on a method sends every call of that method to
// the canary and none of another's: clients of EmptyCall meet the new version only, clients
// of UnaryCall the old one only.
func TestAGRPCRouteABStepOnAMethod(t *testing.T) {
	const app, host = "ledgers", "ledgers.e2e.test"
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ro := grpcRouteRollout(app, host, 8*time.Second, 2*time.Second)
	ro.Spec.Steps = []trancheapi.Step{{
		Match: []trancheapi.HTTPMatch{{GRPCMethod: &trancheapi.GRPCMethodMatch{Service: "grpc.testing.TestService", Method: "EmptyCall"}}},
		Hold:  &metav1.Duration{Duration: 8 * time.Second},
	}}
	others := deployGRPCThroughTraefik(t, ro, host, stack.GatewayCalls{})
	testers, err := stack.StartGRPCLoadThroughGateway(ctx, s.Traefik.WebURL(), host, grpcCallsPerSecond/2, stack.GatewayCalls{Empty: true})
	require.NoError(t, err)
	require.NoError(t, stack.Release(ctx, s.ControlPlane.Client, namespace, app, "v2", "--grpc"))

	requireABSplit(t, app, testers, others, 2*time.Second)

	promoted := waitForEnd(t, app, "", time.Minute)
	require.Equal(t, trancheapi.PhaseSucceeded, promoted.Status.Phase, promoted.Status.Message)
}
