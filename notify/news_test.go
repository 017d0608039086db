package notify_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/notify"
)

func TestNewsOf(t *testing.T) {
	started := metav1.NewTime(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	rollout := func(phase trancheapi.Phase) *trancheapi.Rollout {
		return &trancheapi.Rollout{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "podinfo"},
			Spec: trancheapi.RolloutSpec{
				Steps: []trancheapi.Step{{Weight: ptr.To[int32](5)}, {Weight: ptr.To[int32](50)}, {Mirror: ptr.To[int32](100)}},
				Analysis: &trancheapi.Analysis{Metrics: []trancheapi.Metric{
					{Name: "errors", Max: ptr.To(1.0)}, {Name: "latency", Min: ptr.To(0.0), Max: ptr.To(500.0)},
				}},
			},
			Status: trancheapi.RolloutStatus{
				Phase: phase, CurrentStep: 1, CanaryWeight: 50, StableRevision: "a", CanaryRevision: "b", RolloutStartedAt: &started,
				LastChecks: []trancheapi.CheckResult{
					{Metric: "errors", Value: "3", Verdict: trancheapi.VerdictFail},
					{Metric: "latency", Value: "200", Verdict: trancheapi.VerdictPass},
					{Metric: "errors", Value: "0.5", Verdict: trancheapi.VerdictPass}, // an older run
				},
			},
		}
	}
	for _, tc := range []struct {
		reason string
		phase  trancheapi.Phase
		kind   notify.Kind
		step   int
	}{
		{"RolloutStarted", trancheapi.PhaseProgressing, notify.Started, 2},
		{"StepCompleted", trancheapi.PhaseProgressing, notify.StepReached, 2},
		{"WaitingApproval", trancheapi.PhaseWaitingApproval, notify.WaitingApproval, 2},
		{"Promoted", trancheapi.PhaseSucceeded, notify.Promoted, 0},
		{"RolledBack", trancheapi.PhaseFailed, notify.RolledBack, 2},
		{"RolledBack", trancheapi.PhaseAborted, notify.Aborted, 2},
		{"Undone", trancheapi.PhaseAborted, notify.Undone, 0},
		{"AnalysisFailed", trancheapi.PhaseProgressing, notify.AnalysisFailing, 2},
		{"AnalysisInconclusive", trancheapi.PhaseProgressing, notify.AnalysisFailing, 2},
		{"DryRunFailed", trancheapi.PhaseProgressing, notify.DryRunFailing, 2},
		{"Stalled", trancheapi.PhaseInitialized, notify.Stalled, 0},
	} {
		t.Run(tc.reason+"/"+string(tc.phase), func(t *testing.T) {
			n, ok := notify.NewsOf(rollout(tc.phase), tc.reason, "it happened", started.Time)
			assert.True(t, ok)
			assert.Equal(t, tc.kind, n.Kind)
			assert.Equal(t, tc.step, n.Step)
			assert.Equal(t, []string{"5%", "50%", "mirror 100%"}, n.Steps)
			assert.Equal(t, "2026-11-24T12:00:00Z", n.Attempt)
			assert.Equal(t, []notify.Check{
				{Metric: "errors", Value: "3", Threshold: "<= 1", Verdict: trancheapi.VerdictFail},
				{Metric: "latency", Value: "200", Threshold: ">= 0, <= 500", Verdict: trancheapi.VerdictPass},
			}, n.Checks, "each metric's newest result with its threshold")
		})
	}
	for _, reason := range []string{"Approved", "Paused", "Resumed", "RequestIgnored", "RolloutRestarted", "RetryRequested", "Promoting"} {
		_, ok := notify.NewsOf(rollout(trancheapi.PhaseProgressing), reason, "", started.Time)
		assert.False(t, ok, "%s is not news", reason)
	}
	assert.Equal(t, trancheapi.SeverityError, notify.Aborted.Severity())
	assert.Equal(t, trancheapi.SeverityInfo, notify.WaitingApproval.Severity())
}
