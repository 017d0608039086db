package controllers

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// A condition's lastTransitionTime moves only when its status does: a Rollout that stays
// Failed (or Succeeded, or under way) keeps the times it had, so that deciding again writes
// nothing.
func TestConditionsKeepTheirTimesWhileTheirStatusHolds(t *testing.T) {
	long := metav1.NewTime(time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	for _, phase := range []trancheapi.Phase{trancheapi.PhaseFailed, trancheapi.PhaseAborted, trancheapi.PhaseSucceeded, trancheapi.PhaseProgressing} {
		t.Run(string(phase), func(t *testing.T) {
			ro := &trancheapi.Rollout{ObjectMeta: metav1.ObjectMeta{Generation: 2}, Status: trancheapi.RolloutStatus{Phase: phase, Message: "said"}}
			setPhaseConditions(ro)
			require.NotEmpty(t, ro.Status.Conditions)
			for i := range ro.Status.Conditions {
				ro.Status.Conditions[i].LastTransitionTime = long // as written a while ago
			}
			before := ro.Status.DeepCopy()

			setPhaseConditions(ro)

			assert.Equal(t, before.Conditions, ro.Status.Conditions)
			assert.True(t, equalStatus(*before, ro.Status), "nothing to write")
		})
	}
}

// A status that is stalled by a problem, then fails, keeps Stalled's time: it stayed True.
func TestStalledKeepsItsTimeFromAProblemToAFailure(t *testing.T) {
	long := metav1.NewTime(time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	ro := &trancheapi.Rollout{Status: trancheapi.RolloutStatus{Phase: trancheapi.PhaseFailed, Conditions: []metav1.Condition{
		{Type: trancheapi.ConditionStalled, Status: metav1.ConditionTrue, Reason: trancheapi.ReasonTemplateNotFound, LastTransitionTime: long},
	}}}
	setPhaseConditions(ro)
	stalled := apimeta.FindStatusCondition(ro.Status.Conditions, trancheapi.ConditionStalled)
	require.NotNil(t, stalled)
	assert.Equal(t, string(trancheapi.PhaseFailed), stalled.Reason)
	assert.Equal(t, long, stalled.LastTransitionTime)

	ro.Status.Phase = trancheapi.PhaseProgressing // a retry
	setPhaseConditions(ro)
	assert.Nil(t, apimeta.FindStatusCondition(ro.Status.Conditions, trancheapi.ConditionStalled))
}

// Statuses that differ only below what the API server keeps (a condition's time within its
// second, a MicroTime within its microsecond) are equal: a patch of them changes nothing.
func TestEqualStatusIsWhatTheAPIServerKeeps(t *testing.T) {
	at := time.Date(2026, 12, 7, 9, 30, 15, 0, time.UTC)
	read := trancheapi.RolloutStatus{
		Phase:         trancheapi.PhaseFailed,
		StepStartedAt: &metav1.MicroTime{Time: at.Add(250 * time.Microsecond)},
		Conditions:    []metav1.Condition{{Type: trancheapi.ConditionStalled, Status: metav1.ConditionTrue, Reason: "Failed", LastTransitionTime: metav1.NewTime(at)}},
	}
	decided := *read.DeepCopy()
	decided.StepStartedAt = &metav1.MicroTime{Time: at.Add(250*time.Microsecond + 300*time.Nanosecond)}
	decided.Conditions[0].LastTransitionTime = metav1.NewTime(at.Add(400 * time.Millisecond))
	assert.True(t, equalStatus(read, decided))
	wire, err := json.Marshal(decided)
	require.NoError(t, err)
	var back trancheapi.RolloutStatus
	require.NoError(t, json.Unmarshal(wire, &back))
	assert.True(t, equalStatus(back, decided), "a status read back equals the one written")

	decided.Conditions[0].LastTransitionTime = metav1.NewTime(at.Add(time.Second))
	assert.False(t, equalStatus(read, decided), "a second is kept")
	decided = *read.DeepCopy()
	decided.StepStartedAt = &metav1.MicroTime{Time: at.Add(251 * time.Microsecond)}
	assert.False(t, equalStatus(read, decided), "a microsecond is kept")
}
