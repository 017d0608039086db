package controllers

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// An undo puts back the template the primary ran before its current one, from the ReplicaSet
// the real deployment controller kept: at once, with no steps. The undone revision is not
// rolled out again until a retry, which walks it anew. Before anything was promoted there is
// nothing to go back to, and the status says so.
func TestUndoPutsThePrimarysEarlierTemplateBack(t *testing.T) {
	t.Parallel()
	e := startScenario(t, prom, exporter, canaryRollout(cp.Namespace(t)))

	e.annotate(trancheapi.AnnotationUndo, "u0")
	require.Eventually(t, func() bool { return e.get().Status.HandledRequests.Undo == "u0" }, 10*time.Second, 50*time.Millisecond)
	ro := e.get()
	assert.Equal(t, trancheapi.PhaseInitialized, ro.Status.Phase)
	assert.Contains(t, ro.Status.Message, "Undo refused: the primary keeps no template before its current one")

	e.release(goodImage2)
	promoted := e.waitForPhase(trancheapi.PhaseSucceeded, time.Minute)
	e.assertPrimaryOnly(goodImage2)

	e.annotate(trancheapi.AnnotationUndo, "u1 by alice")
	ro = e.waitForPhase(trancheapi.PhaseAborted, 10*time.Second)
	assert.Contains(t, ro.Status.Message, "Undone revision "+promoted.Status.StableRevision+" on request by alice")
	assert.Equal(t, promoted.Status.StableRevision, ro.Status.CanaryRevision, "the promoted revision is the undone one")
	// The status is written before the action, which follows at once.
	require.Eventually(t, func() bool {
		return e.deployment("podinfo-primary").Spec.Template.Spec.Containers[0].Image == goodImage
	}, 10*time.Second, 50*time.Millisecond, "the primary runs the earlier template")
	assert.Equal(t, ro.Status.StableRevision, e.deployment("podinfo-primary").Annotations[trancheapi.AnnotationRevision])
	require.Eventually(t, func() bool {
		d := e.deployment("podinfo-primary")
		return d.Status.UpdatedReplicas == ptr.Deref(d.Spec.Replicas, 1) && d.Status.ReadyReplicas == d.Status.UpdatedReplicas &&
			d.Status.ObservedGeneration == d.Generation
	}, 30*time.Second, 100*time.Millisecond, "the primary rolled to the earlier template")

	// At rest: nothing rolls the undone revision out again, and the canary stays down.
	res, said := e.reconcileNow()
	assert.Empty(t, said, "nothing to roll out")
	assert.Equal(t, trancheapi.PhaseAborted, e.get().Status.Phase)
	assert.Zero(t, ptr.Deref(e.deployment("podinfo").Spec.Replicas, 1), "the target stays scaled to zero")
	assert.Equal(t, resyncInterval, res.RequeueAfter, "nothing is due")

	e.annotate(trancheapi.AnnotationRetry, "r1")
	e.waitForPhase(trancheapi.PhaseProgressing, 10*time.Second)
	e.waitForPhase(trancheapi.PhaseSucceeded, time.Minute)
	e.assertPrimaryOnly(goodImage2)
}
