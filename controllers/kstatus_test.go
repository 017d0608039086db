package controllers

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/controllers/planner"
)

// What Flux (its kustomize-controller's health checks) and kubectl wait read of a Rollout:
// kstatus, which knows no rule of Tranche's kind and reads observedGeneration, Reconciling
// and Stalled, from the conditions the controller writes in each phase. A rollout waiting for
// a person reads as InProgress: the release has not gone through, and a Kustomization that
// waits on it waits until its timeout unless someone promotes or aborts.
func TestWhatKstatusReadsOfEachPhase(t *testing.T) {
	tests := []struct {
		name    string
		phase   trancheapi.Phase
		problem *planner.Problem // a stall besides the phase
		behind  bool             // the controller has not seen the latest spec
		want    status.Status
	}{
		{name: "initializing", phase: trancheapi.PhaseInitializing, want: status.InProgressStatus},
		{name: "initialized", phase: trancheapi.PhaseInitialized, want: status.CurrentStatus},
		{name: "stepping", phase: trancheapi.PhaseProgressing, want: status.InProgressStatus},
		{name: "waiting for approval", phase: trancheapi.PhaseWaitingApproval, want: status.InProgressStatus},
		{name: "paused", phase: trancheapi.PhasePaused, want: status.InProgressStatus},
		{name: "promoting", phase: trancheapi.PhasePromoting, want: status.InProgressStatus},
		{name: "promoted", phase: trancheapi.PhaseSucceeded, want: status.CurrentStatus},
		{name: "rolled back", phase: trancheapi.PhaseFailed, want: status.FailedStatus},
		{name: "aborted", phase: trancheapi.PhaseAborted, want: status.FailedStatus},
		{name: "stalled mid-rollout", phase: trancheapi.PhaseProgressing, want: status.FailedStatus,
			problem: &planner.Problem{Reason: trancheapi.ReasonTemplateNotFound, Message: "MetricTemplate error-rate not found"}},
		{name: "promoted, a newer spec not seen yet", phase: trancheapi.PhaseSucceeded, behind: true, want: status.InProgressStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ro := &trancheapi.Rollout{
				TypeMeta:   metav1.TypeMeta{APIVersion: trancheapi.GroupVersion.String(), Kind: "Rollout"},
				ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "podinfo", Generation: 2},
				Status:     trancheapi.RolloutStatus{Phase: tt.phase, Message: "what the controller said", ObservedGeneration: 2},
			}
			setPhaseConditions(ro)
			if tt.problem != nil {
				r := &RolloutReconciler{Recorder: events.NewFakeRecorder(1)}
				r.setStalled(ro, tt.problem)
			}
			if tt.behind {
				ro.Generation = 3
			}
			obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ro)
			require.NoError(t, err)
			result, err := status.Compute(&unstructured.Unstructured{Object: obj})
			require.NoError(t, err)
			assert.Equal(t, tt.want, result.Status, result.Message)
		})
	}
}
