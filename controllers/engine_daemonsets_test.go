package controllers

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
)

// A DaemonSet target, on the suite's kwok nodes with the real daemonset controller: the
// primary is a DaemonSet on every node, the canary runs on every node while a rollout is
// under way and is parked (on none) otherwise.
func TestADaemonSetIsRolledOutOnEveryNode(t *testing.T) {
	t.Parallel()
	ro := canaryRollout(cp.Namespace(t))
	ro.Spec.TargetRef.Kind = trancheapi.KindDaemonSet
	e := startScenarioWith(t, prom.URL(), exporter, ro, harness.DaemonSet(ro.Namespace, "podinfo", goodImage))
	nodes := e.waitForDaemonSet("podinfo-primary", func(ds *appsv1.DaemonSet) bool { return ds.Status.NumberReady > 0 }).Status.DesiredNumberScheduled
	require.Equal(t, int32(suiteNodes), nodes, "the primary runs on every node")
	e.waitForDaemonSet("podinfo", parkedAndGone)

	e.release(goodImage2)
	e.waitForWeight(50, time.Minute)
	canary := e.daemonSet("podinfo")
	assert.False(t, parked(canary), "the canary runs while its rollout is under way")
	assert.Equal(t, nodes, canary.Status.NumberReady, "on every node, and ready, before it has a share")
	e.waitForPhase(trancheapi.PhaseSucceeded, time.Minute)
	e.waitForDaemonSet("podinfo", parkedAndGone)
	primary := e.daemonSet("podinfo-primary")
	assert.Equal(t, goodImage2, primary.Spec.Template.Spec.Containers[0].Image)
	assert.NotContains(t, primary.Spec.Template.Spec.NodeSelector, trancheapi.NodeSelectorParked, "the primary is never parked")

	e.release(badImage)
	ro = e.waitForPhase(trancheapi.PhaseFailed, time.Minute)
	assert.Contains(t, ro.Status.Message, "failed analysis runs", "rolled back by its analysis")
	e.waitForDaemonSet("podinfo", parkedAndGone)
	assert.Equal(t, goodImage2, e.daemonSet("podinfo-primary").Spec.Template.Spec.Containers[0].Image, "the rollback kept the primary")
	assert.Equal(t, ro.Status.StableRevision, e.daemonSet("podinfo-primary").Annotations[trancheapi.AnnotationRevision])

	// Deleting the Rollout leaves the DaemonSet running on every node.
	require.NoError(t, cp.Client.Delete(context.Background(), ro))
	e.waitForDaemonSet("podinfo", func(ds *appsv1.DaemonSet) bool {
		return !parked(ds) && ds.Status.ObservedGeneration == ds.Generation && ds.Status.NumberReady == nodes
	})
}

// parkedAndGone: the DaemonSet is parked and the daemonset controller has taken its pods away.
func parkedAndGone(ds *appsv1.DaemonSet) bool {
	return parked(ds) && ds.Status.ObservedGeneration == ds.Generation && ds.Status.CurrentNumberScheduled == 0
}

func (e *engineEnv) daemonSet(name string) *appsv1.DaemonSet {
	e.t.Helper()
	ds := &appsv1.DaemonSet{}
	require.NoError(e.t, cp.Client.Get(context.Background(), types.NamespacedName{Namespace: e.ns, Name: name}, ds))
	return ds
}

func (e *engineEnv) waitForDaemonSet(name string, done func(*appsv1.DaemonSet) bool) *appsv1.DaemonSet {
	e.t.Helper()
	ds := &appsv1.DaemonSet{}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ds = &appsv1.DaemonSet{}
		if cp.Client.Get(context.Background(), types.NamespacedName{Namespace: e.ns, Name: name}, ds) == nil && done(ds) {
			return ds
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.Failf(e.t, "DaemonSet not as awaited", "%s: spec %+v, status %+v", name, ds.Spec.Template.Spec.NodeSelector, ds.Status)
	return nil
}
