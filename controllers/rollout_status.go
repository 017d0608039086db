package controllers

import (
	"k8s.io/apimachinery/pkg/api/equality"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// setReady marks the Rollout ready: nothing is in the way and nothing is in progress.
func setReady(ro *trancheapi.Rollout, message string) {
	setCondition(ro, trancheapi.ConditionReady, metav1.ConditionTrue, trancheapi.ReasonReferencesResolved, message)
	apimeta.RemoveStatusCondition(&ro.Status.Conditions, trancheapi.ConditionStalled)
	apimeta.RemoveStatusCondition(&ro.Status.Conditions, trancheapi.ConditionReconciling)
}

// setStalled marks the Rollout as unable to go on until its user changes something, and
// records an event when the problem is new.
func (r *RolloutReconciler) setStalled(ro *trancheapi.Rollout, p *problem) {
	prev := apimeta.FindStatusCondition(ro.Status.Conditions, trancheapi.ConditionStalled)
	if prev == nil || prev.Reason != p.reason || prev.Message != p.message {
		r.Recorder.Eventf(ro, nil, corev1.EventTypeWarning, p.reason, "Validate", p.message)
	}
	setCondition(ro, trancheapi.ConditionReady, metav1.ConditionFalse, p.reason, p.message)
	setCondition(ro, trancheapi.ConditionStalled, metav1.ConditionTrue, p.reason, p.message)
	apimeta.RemoveStatusCondition(&ro.Status.Conditions, trancheapi.ConditionReconciling)
	// The spec was read and judged: the verdict is about this generation.
	ro.Status.ObservedGeneration = ro.Generation
}

// setReconcilingError records a transient failure; the reconcile is retried with backoff.
func setReconcilingError(ro *trancheapi.Rollout, err error) {
	setCondition(ro, trancheapi.ConditionReconciling, metav1.ConditionTrue, "ReconcileError", err.Error())
}

func setCondition(ro *trancheapi.Rollout, kind string, status metav1.ConditionStatus, reason, message string) {
	apimeta.SetStatusCondition(&ro.Status.Conditions, metav1.Condition{
		Type:               kind,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: ro.Generation,
	})
}

// equalStatus reports whether two statuses would serialize the same.
func equalStatus(a, b trancheapi.RolloutStatus) bool {
	return equality.Semantic.DeepEqual(a, b)
}
