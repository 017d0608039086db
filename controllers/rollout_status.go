package controllers

import (
	"bytes"
	"encoding/json"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/controllers/planner"
)

// setStalled marks the Rollout as unable to go on until its user changes something, and
// records an event when the problem is new.
func (r *RolloutReconciler) setStalled(ro *trancheapi.Rollout, p *planner.Problem) {
	prev := apimeta.FindStatusCondition(ro.Status.Conditions, trancheapi.ConditionStalled)
	if prev == nil || prev.Reason != p.Reason || prev.Message != p.Message {
		r.Recorder.Eventf(ro, nil, corev1.EventTypeWarning, p.Reason, "Validate", p.Message)
		r.notify(ro, "Stalled", p.Message)
	}
	setCondition(ro, trancheapi.ConditionReady, metav1.ConditionFalse, p.Reason, p.Message)
	setCondition(ro, trancheapi.ConditionStalled, metav1.ConditionTrue, p.Reason, p.Message)
	apimeta.RemoveStatusCondition(&ro.Status.Conditions, trancheapi.ConditionReconciling)
	// The spec was read and judged: the verdict is about this generation.
	ro.Status.ObservedGeneration = ro.Generation
}

// setPhaseConditions derives the conditions from the phase decide chose: Ready while the
// stable version serves all traffic with nothing in progress, Reconciling while a rollout is
// under way, Stalled (with the phase as its reason) once one was rolled back or aborted,
// Promoted for the outcome of the last rollout, Analysis for the last run.
func setPhaseConditions(ro *trancheapi.Rollout) {
	st := &ro.Status
	phase, message := string(st.Phase), st.Message
	// Stalled is set or removed in each branch, never removed and set again: its
	// lastTransitionTime must move only when its status does (kstatus and people read it).
	switch st.Phase {
	case trancheapi.PhaseInitialized, trancheapi.PhaseSucceeded:
		apimeta.RemoveStatusCondition(&st.Conditions, trancheapi.ConditionStalled)
		setCondition(ro, trancheapi.ConditionReady, metav1.ConditionTrue, phase, message)
		apimeta.RemoveStatusCondition(&st.Conditions, trancheapi.ConditionReconciling)
		setCondition(ro, trancheapi.ConditionPromoted, metav1.ConditionTrue, phase, message)
	case trancheapi.PhaseFailed, trancheapi.PhaseAborted:
		setCondition(ro, trancheapi.ConditionReady, metav1.ConditionFalse, phase, message)
		apimeta.RemoveStatusCondition(&st.Conditions, trancheapi.ConditionReconciling)
		setCondition(ro, trancheapi.ConditionPromoted, metav1.ConditionFalse, phase, message)
		// Nothing moves until a new revision or a retry: kstatus (Flux, kubectl wait) reads
		// Stalled as Failed, which a rolled-back release is.
		setCondition(ro, trancheapi.ConditionStalled, metav1.ConditionTrue, phase, message)
	default: // Initializing, Progressing, WaitingApproval, Paused, Promoting
		apimeta.RemoveStatusCondition(&st.Conditions, trancheapi.ConditionStalled)
		setCondition(ro, trancheapi.ConditionReady, metav1.ConditionFalse, phase, message)
		setCondition(ro, trancheapi.ConditionReconciling, metav1.ConditionTrue, phase, message)
		if st.Phase != trancheapi.PhaseInitializing {
			setCondition(ro, trancheapi.ConditionPromoted, metav1.ConditionFalse, trancheapi.ReasonProgressing, message)
		}
	}
	setAnalysisCondition(ro)
}

// setAnalysisCondition reports the verdict of the latest analysis run.
func setAnalysisCondition(ro *trancheapi.Rollout) {
	st := &ro.Status
	if st.LastAnalysisAt == nil {
		return
	}
	status, reason, notes := metav1.ConditionTrue, "Passed", []string{}
	for _, c := range st.LastChecks {
		if !c.At.Equal(st.LastAnalysisAt) || c.Verdict == trancheapi.VerdictPass {
			continue
		}
		note := c.Metric + " " + string(c.Verdict)
		if c.Value != "" {
			note += " (" + c.Value + ")"
		}
		notes = append(notes, note)
		if c.Verdict == trancheapi.VerdictFail {
			status, reason = metav1.ConditionFalse, "Failed"
		} else if status == metav1.ConditionTrue {
			status, reason = metav1.ConditionUnknown, "Inconclusive"
		}
	}
	message := "Every check passed"
	if len(notes) > 0 {
		message = strings.Join(notes, "; ")
	}
	setCondition(ro, trancheapi.ConditionAnalysis, status, reason, message)
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

// equalStatus reports whether two statuses would serialize the same: what the API server
// would store. Times differ in memory below what they keep (a condition's second, a
// MicroTime's microsecond), and a patch sent for such a difference changes nothing.
func equalStatus(a, b trancheapi.RolloutStatus) bool {
	if equality.Semantic.DeepEqual(a, b) {
		return true
	}
	aj, aerr := json.Marshal(a)
	bj, berr := json.Marshal(b)
	return aerr == nil && berr == nil && bytes.Equal(aj, bj)
}
