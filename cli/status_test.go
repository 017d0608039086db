package cli_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/cli"
)

func TestJudge(t *testing.T) {
	rollout := func(phase trancheapi.Phase, stable, canary string, generation, observed int64) *trancheapi.Rollout {
		return &trancheapi.Rollout{
			ObjectMeta: metav1.ObjectMeta{Generation: generation},
			Status:     trancheapi.RolloutStatus{Phase: phase, StableRevision: stable, CanaryRevision: canary, ObservedGeneration: observed},
		}
	}
	stalled := rollout(trancheapi.PhaseInitialized, "a", "a", 2, 2)
	stalled.Status.Conditions = []metav1.Condition{{Type: trancheapi.ConditionStalled, Status: metav1.ConditionTrue, ObservedGeneration: 2, Message: "no such template"}}
	retried := rollout(trancheapi.PhaseFailed, "a", "b", 1, 1)
	retried.Annotations = map[string]string{trancheapi.AnnotationRetry: "t2"}
	retried.Status.HandledRequests.Retry = "t1"
	retryHandled := retried.DeepCopy()
	retryHandled.Status.HandledRequests.Retry = "t2"
	staleStall := rollout(trancheapi.PhaseInitialized, "a", "a", 3, 3)
	staleStall.Status.Conditions = stalled.Status.Conditions
	// As the controller writes a rolled-back rollout: Stalled, its reason the phase.
	rolledBack := rollout(trancheapi.PhaseFailed, "a", "b", 1, 1)
	rolledBack.Status.Conditions = []metav1.Condition{{Type: trancheapi.ConditionStalled, Status: metav1.ConditionTrue, ObservedGeneration: 1, Reason: "Failed"}}

	tests := []struct {
		name            string
		ro              *trancheapi.Rollout
		target          string
		ended, promoted bool
	}{
		{"promoted", rollout(trancheapi.PhaseSucceeded, "b", "b", 1, 1), "b", true, true},
		{"initialized on the target's revision", rollout(trancheapi.PhaseInitialized, "a", "", 1, 1), "a", true, true},
		{"an earlier release succeeded; the new one is not seen yet", rollout(trancheapi.PhaseSucceeded, "a", "a", 1, 1), "b", false, false},
		{"progressing", rollout(trancheapi.PhaseProgressing, "a", "b", 1, 1), "b", false, false},
		{"waiting for approval", rollout(trancheapi.PhaseWaitingApproval, "a", "b", 1, 1), "b", false, false},
		{"failed", rollout(trancheapi.PhaseFailed, "a", "b", 1, 1), "b", true, false},
		{"aborted", rollout(trancheapi.PhaseAborted, "a", "b", 1, 1), "b", true, false},
		{"an earlier release failed; a fix is on its way", rollout(trancheapi.PhaseFailed, "a", "b", 1, 1), "c", false, false},
		{"spec changed, not yet seen", rollout(trancheapi.PhaseSucceeded, "b", "b", 2, 1), "b", false, false},
		{"no target", rollout(trancheapi.PhaseInitialized, "a", "", 1, 1), "", false, false},
		{"failed, then the target set back to the stable revision", rollout(trancheapi.PhaseFailed, "a", "b", 1, 1), "a", true, true},
		{"failed, a retry not yet seen", retried, "b", false, false},
		{"failed again after the retry", retryHandled, "b", true, false},
		{"rolled back, and Stalled as the controller says it", rolledBack, "b", true, false},
		{"rolled back and Stalled; a fix is on its way", rolledBack, "c", false, false},
		{"stalled", stalled, "a", true, false},
		{"stalled on an older spec", staleStall, "a", true, true},
	}
	unseen := rollout(trancheapi.PhaseSucceeded, "b", "b", 1, 1)
	unseen.Status.Target = trancheapi.TargetStatus{Generation: 1, Revision: "b"}
	t.Run("the target changed since the controller saw it", func(t *testing.T) {
		got := cli.Judge(unseen, &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Generation: 2}})
		assert.False(t, got.Ended, got.Message)
		assert.Contains(t, got.Message, "generation 2")
	})
	t.Run("the target changed since only by Tranche's scale", func(t *testing.T) {
		got := cli.Judge(unseen, &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Generation: 3,
			Annotations: map[string]string{trancheapi.AnnotationOwnGenerations: "1-3"}}})
		assert.True(t, got.Ended, got.Message)
		assert.True(t, got.Succeeded, got.Message)
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The controller saw the target's latest generation, and recorded its revision.
			var target *metav1.PartialObjectMetadata
			if tt.target != "" {
				target = &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Generation: 4}}
				tt.ro.Status.Target = trancheapi.TargetStatus{Generation: 4, Revision: tt.target}
			}
			got := cli.Judge(tt.ro, target)
			assert.Equal(t, tt.ended, got.Ended, got.Message)
			assert.Equal(t, tt.promoted, got.Succeeded, got.Message)
			assert.NotEmpty(t, got.Message)
		})
	}
}
