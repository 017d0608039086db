//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/stack"
)

// TestADaemonSetCanaryIsPromotedAndABadOneRolledBack rolls out a DaemonSet, a pod of the demo
// app on every kwok node run by the real daemonset controller, through Traefik: the split is
// measured at the data plane at each step, and a bad version is rolled back.
func TestADaemonSetCanaryIsPromotedAndABadOneRolledBack(t *testing.T) {
	const app, host = "agent", "agent.e2e.test"
	ro := stack.CanaryRollout(namespace, app, host, 6*time.Second, 3*time.Second)
	ro.Spec.TargetRef.Kind = trancheapi.KindDaemonSet
	ro.Spec.ScaleDownDelay = &metav1.Duration{Duration: 2 * time.Second} // parked soon after each rollout, for the last check
	load := deployApp(t, ro, stack.DaemonSetApp(namespace, app, "v1"), host)
	primary := daemonSet(t, app+trancheapi.PrimarySuffix)
	require.Equal(t, int32(len(s.ControlPlane.Workloads.Nodes)), primary.Status.DesiredNumberScheduled, "the primary runs on every node")
	require.Equal(t, primary.Status.DesiredNumberScheduled, primary.Status.NumberReady)

	good, ro := release(t, app, load, "v2")
	require.Equal(t, trancheapi.PhaseSucceeded, ro.Status.Phase, ro.Status.Message)
	assertPromotedStepByStep(t, load, good, "v2")

	bad, ro := release(t, app, load, "v3", "--error-rate=0.3")
	require.Equal(t, trancheapi.PhaseFailed, ro.Status.Phase, ro.Status.Message)
	after := stack.Between(bad[len(bad)-3], bad[len(bad)-1]).Clients
	assert.Equal(t, map[string]int{"v2": after.Sent}, after.ByVersion, "after the rollback, v2 answers everything")
	require.Eventually(t, func() bool {
		canary := daemonSet(t, app)
		return canary.Status.ObservedGeneration == canary.Generation && canary.Status.CurrentNumberScheduled == 0
	}, 30*time.Second, 100*time.Millisecond, "the canary DaemonSet runs on no node once the rollout has ended")
	assert.Equal(t, stack.Image("v2"), daemonSet(t, app+trancheapi.PrimarySuffix).Spec.Template.Spec.Containers[0].Image)
}

func daemonSet(t *testing.T, name string) *appsv1.DaemonSet {
	t.Helper()
	ds := &appsv1.DaemonSet{}
	require.NoError(t, s.ControlPlane.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, ds))
	return ds
}
