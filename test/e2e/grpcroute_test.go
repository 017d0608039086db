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
func deployGRPCThroughTraefik(t *testing.T, ro *trancheapi.Rollout, host string, md metadata.MD) *stack.Load {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	createInitialized(t, ro, grpcApp(ro.Name, "v1"))
	require.NoError(t, stack.WaitGRPCServed(ctx, s.Traefik.WebURL(), host, 30*time.Second))
	load, err := stack.StartGRPCLoadThroughGateway(ctx, s.Traefik.WebURL(), host, grpcCallsPerSecond, md)
	require.NoError(t, err)
	return load
}

// A gRPC service through Traefik's GRPCRoute: a good version walked 5/50/100 with each
// step's share of calls within 3 points as the clients counted them and no call failed; a
// version failing 30% of its calls with INTERNAL rolled back at the first step by the
// built-in success rate, which reads the gRPC statuses Traefik counts.
func TestAGRPCServiceThroughTraefiksGRPCRoute(t *testing.T) {
	const app, host = "quotes", "quotes.e2e.test"
	load := deployGRPCThroughTraefik(t, grpcRouteRollout(app, host, 6*time.Second, 2*time.Second), host, nil)
	release := func(version string, args ...string) ([]stack.Sample, *trancheapi.Rollout) {
		return recordRelease(t, app, load, s.Traefik.MetricsURL(), func(ctx context.Context) error {
			return stack.Release(ctx, s.ControlPlane.Client, namespace, app, version, append([]string{"--grpc"}, args...)...)
		})
	}

	good, ro := release("v2")
	require.Equal(t, trancheapi.PhaseSucceeded, ro.Status.Phase, "%s; the last checks: %+v", ro.Status.Message, ro.Status.LastChecks)
	requireCheckPassed(t, ro, "success-rate")
	shares := clientShares(good, "v2")
	t.Logf("canary share the gRPC clients measured, by weight: %v", shares)
	assertSharesNear(t, shares, 3, "Traefik's GRPCRoute split, as the clients saw it")
	whole := stack.Between(good[0], good[len(good)-1]).Clients
	assert.Zero(t, whole.Failed, "calls failed during a healthy release:\n%s", stack.FailuresDuring(load, good))
	fmt.Printf("BENCH e2e_grpcroute_share_5=%.1f e2e_grpcroute_share_50=%.1f e2e_grpcroute_share_100=%.1f\n", shares[5], shares[50], shares[100])

	bad, ro := release("v3", "--error-rate=0.3")
	during := requireRolledBackAtFirstStep(t, bad, ro, "v2")
	assert.True(t, slices.ContainsFunc(ro.Status.LastChecks, func(c trancheapi.CheckResult) bool {
		return c.Metric == "success-rate" && c.Verdict == trancheapi.VerdictFail
	}), "the built-in success rate failed the calls Traefik counted INTERNAL: %+v", ro.Status.LastChecks)
	fmt.Printf("BENCH e2e_grpcroute_bad_calls=%d e2e_grpcroute_rollback_seconds=%.1f\n", during.Clients.Failed, during.To.At.Sub(during.From.At).Seconds())
}

// Through Traefik's GRPCRoute, an A/B step sends every call that carries the step's header
// (gRPC metadata) to the canary and none of the others.
func TestAGRPCRouteABStepSendsTheMatchingCallsAndOnlyThoseToTheCanary(t *testing.T) {
	const app, host = "rates", "rates.e2e.test"
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ro := grpcRouteRollout(app, host, 8*time.Second, 2*time.Second)
	ro.Spec.Steps = []trancheapi.Step{testerStep(8 * time.Second)}
	others := deployGRPCThroughTraefik(t, ro, host, nil)
	testers, err := stack.StartGRPCLoadThroughGateway(ctx, s.Traefik.WebURL(), host, grpcCallsPerSecond/2, metadata.Pairs("x-tester", "insider"))
	require.NoError(t, err)
	require.NoError(t, stack.Release(ctx, s.ControlPlane.Client, namespace, app, "v2", "--grpc"))

	requireABSplit(t, app, testers, others, 2*time.Second)

	promoted := waitForEnd(t, app, "", time.Minute)
	require.Equal(t, trancheapi.PhaseSucceeded, promoted.Status.Phase, promoted.Status.Message)
}
