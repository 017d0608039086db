//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/stack"
)

// A backend and its frontend, each a Rollout of its own (as each lives in its own file in
// Git), released as one group: both change in one commit. Healthy, the frontend's canary
// takes its first traffic only after the backend's first step passed, and both promote. With
// a bad backend, the backend fails at 5% and the frontend, waiting for it, is rolled back
// having never taken a request, as the data plane counted them.
func TestAGroupReleasesItsBackendFirstAndRollsBackAsOne(t *testing.T) {
	const backend, frontend = "pay", "shopfront"
	ctx := context.Background()
	c := s.ControlPlane.Client
	member := func(app string, after ...trancheapi.GroupOrder) *trancheapi.Rollout {
		// A hold of two intervals and more: the first run of a step may see a second of the
		// canary's traffic, a few requests that can all succeed at 30% errors; with one run
		// a step, a bad backend then passed its first step (seen once in make e2e).
		ro := stack.CanaryRollout(namespace, app, app+".e2e.test", 7*time.Second, 3*time.Second)
		ro.Spec.Group = &trancheapi.Group{Name: "checkout", After: after}
		return ro
	}
	one := int32(1)
	backLoad := deploy(t, member(backend), backend+".e2e.test")
	frontLoad := deploy(t, member(frontend, trancheapi.GroupOrder{Rollout: backend, Steps: &one}), frontend+".e2e.test")

	// record samples both members until both ended a rollout of a new revision.
	record := func(release func() error) (back, front []stack.Sample, backRo, frontRo *trancheapi.Rollout) {
		t.Helper()
		recording, stop := context.WithCancel(ctx)
		defer stop()
		recorders := map[string]*stack.Recorder{}
		for app, load := range map[string]*stack.Load{backend: backLoad, frontend: frontLoad} {
			rec := &stack.Recorder{Client: c, Namespace: namespace, Rollout: app, Target: app, MetricsURL: s.Traefik.MetricsURL(), Load: load, Period: 250 * time.Millisecond}
			recorders[app] = rec
			go rec.Run(recording, nil)
		}
		time.Sleep(300 * time.Millisecond)
		before := map[string]string{}
		for _, app := range []string{backend, frontend} {
			ro, err := waitFor(app, time.Second, func(*trancheapi.Rollout) bool { return true })
			require.NoError(t, err)
			before[app] = ro.Status.CanaryRevision
		}
		require.NoError(t, release())
		backRo = waitForEnd(t, backend, before[backend], 3*time.Minute)
		frontRo = waitForEnd(t, frontend, before[frontend], 3*time.Minute)
		time.Sleep(2 * time.Second)
		stop()
		return recorders[backend].Samples(), recorders[frontend].Samples(), backRo, frontRo
	}
	// firstCanaryTraffic is when the data plane first counted a request to the canary.
	firstCanaryTraffic := func(samples []stack.Sample) time.Time {
		for i := 1; i < len(samples); i++ {
			if stack.Between(samples[i-1], samples[i]).Canary > 0 {
				return samples[i].At
			}
		}
		return time.Time{}
	}

	back, front, backRo, frontRo := record(func() error {
		if err := stack.Release(ctx, c, namespace, backend, "v2"); err != nil {
			return err
		}
		return stack.Release(ctx, c, namespace, frontend, "v2")
	})
	require.Equal(t, trancheapi.PhaseSucceeded, backRo.Status.Phase, backRo.Status.Message)
	require.Equal(t, trancheapi.PhaseSucceeded, frontRo.Status.Phase, frontRo.Status.Message)
	backFirst, frontFirst := firstCanaryTraffic(back), firstCanaryTraffic(front)
	require.False(t, backFirst.IsZero() || frontFirst.IsZero(), "both canaries took traffic")
	var backStepTwo time.Time
	for _, smp := range back {
		if smp.Step >= 1 {
			backStepTwo = smp.At
			break
		}
	}
	assert.True(t, frontFirst.After(backStepTwo), "the frontend's canary took its first request (%s) after the backend passed its first step (%s)",
		frontFirst.Format("15:04:05.000"), backStepTwo.Format("15:04:05.000"))
	t.Logf("backend's first canary request %s, its second step %s, the frontend's first canary request %s",
		backFirst.Format("15:04:05.000"), backStepTwo.Format("15:04:05.000"), frontFirst.Format("15:04:05.000"))

	routeWeights := watchRouteWeights(ctx, t, frontend)
	back, front, backRo, frontRo = record(func() error {
		if err := stack.Release(ctx, c, namespace, backend, "v3", "--error-rate=0.3"); err != nil {
			return err
		}
		return stack.Release(ctx, c, namespace, frontend, "v3")
	})
	require.Equal(t, trancheapi.PhaseFailed, backRo.Status.Phase, backRo.Status.Message)
	require.Equal(t, trancheapi.PhaseFailed, frontRo.Status.Phase, frontRo.Status.Message)
	assert.Contains(t, frontRo.Status.Message, "member "+backend+" of group checkout ended Failed")
	assert.NotContains(t, weightsOf(back), int32(50), "the backend failed at its first step")
	assert.Equal(t, []int32{0}, weightsOf(front), "the frontend's canary was never given a weight")
	whole := stack.Between(front[0], front[len(front)-1])
	assert.Zero(t, whole.Canary, "the data plane sent the frontend's canary no request; it sent some in\n%s\nthe HTTPRoute's weights:\n%s",
		stack.CanaryTraffic(front), routeWeights())
	assert.Zero(t, whole.Clients.Failed, "no frontend client saw a failure")
	assert.Equal(t, whole.Clients.Sent, whole.Clients.ByVersion["v2"], "v2 answered every frontend client: %+v", whole.Clients)
	backEnd, frontEnd := backRo.Status.History[0].EndedAt, frontRo.Status.History[0].EndedAt
	require.True(t, backEnd != nil && frontEnd != nil, "both rollouts ended")
	fmt.Printf("BENCH e2e_group_follower_failed_after_seconds=%.2f\n", frontEnd.Sub(backEnd.Time).Seconds())
}

// watchRouteWeights looks at the HTTPRoute of a Rollout every 50 ms until the test ends; the
// function it returns lists each change of the weights it saw, for a failure's message.
func watchRouteWeights(ctx context.Context, t *testing.T, name string) func() string {
	watching, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	var mu sync.Mutex
	var changes []string
	last := ""
	go func() {
		for watching.Err() == nil {
			route := &gatewayv1.HTTPRoute{}
			if s.ControlPlane.Client.Get(watching, client.ObjectKey{Namespace: namespace, Name: name}, route) == nil {
				var weights []string
				for _, rule := range route.Spec.Rules {
					for _, ref := range rule.BackendRefs {
						weights = append(weights, fmt.Sprintf("%s=%d", ref.Name, ptr.Deref(ref.Weight, 1)))
					}
				}
				now := strings.Join(weights, " ")
				mu.Lock()
				if now != last {
					changes = append(changes, time.Now().Format("15:04:05.000")+" "+now)
					last = now
				}
				mu.Unlock()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(changes, "\n")
	}
}
