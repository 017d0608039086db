package planner

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// TestTwoPromotesInOneSecondBothCount: Argo CD's promote action numbers its presses within a
// second (argocd-<second>-<n>, see config/argocd). Two presses in one second, each at a
// manual gate, pass both gates; the same token twice, as the action wrote before it counted,
// passes only the first.
func TestTwoPromotesInOneSecondBothCount(t *testing.T) {
	for _, tc := range []struct {
		name   string
		second string // the token of the second press
		want   trancheapi.Phase
	}{
		{"a token per press", "argocd-1795521600-2", trancheapi.PhaseSucceeded},
		{"one token for both", "argocd-1795521600-1", trancheapi.PhaseWaitingApproval},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gate := trancheapi.Step{Weight: ptr.To[int32](10), Approval: trancheapi.ApprovalManual}
			last := trancheapi.Step{Weight: ptr.To[int32](100), Approval: trancheapi.ApprovalManual}
			ro := simRollout(gate, last)
			ro.Spec.Analysis = nil // no hold: the second gate waits a moment after the first is passed
			w := newSim(ro)
			w.script = []scripted{
				at(time.Minute, func(w *simWorld) { w.release("rev2") }),
				at(2*time.Minute, annotate(trancheapi.AnnotationPromote, "argocd-1795521600-1")),
				at(2*time.Minute+600*time.Millisecond, annotate(trancheapi.AnnotationPromote, tc.second)),
			}
			out := w.run(t, 10*time.Minute)
			assert.Equal(t, tc.want, w.ro.Status.Phase, out)
			assert.Equal(t, tc.second, w.ro.Status.HandledRequests.Promote, "the last press is handled")
		})
	}
}

// An undo goes back only to a template the primary kept whose revision and configuration
// are known; otherwise it says why, handles the token, and changes nothing else.
func TestUndoGoesBackOnlyToWhatIsKnown(t *testing.T) {
	now := simStart.Add(time.Hour)
	promoted := trancheapi.RolloutStatus{Phase: trancheapi.PhaseSucceeded, StableRevision: "rev2", CanaryRevision: "rev2"}
	for _, tc := range []struct {
		name    string
		earlier Earlier
		refusal string // "" when the undo goes ahead
	}{
		{"a kept template of a known revision", Earlier{Kept: true, Revision: "rev1"}, ""},
		{"nothing kept", Earlier{Why: "the primary keeps no template before its current one"}, "keeps no template"},
		{"a template that does not say its revision", Earlier{Kept: true}, "does not say which revision"},
		{"a revision whose configuration was overwritten", Earlier{Kept: true, Revision: "rev1", Configured: true}, "ConfigMaps or Secrets whose data of then is no longer kept"},
		{"the revision the primary runs", Earlier{Kept: true, Revision: "rev2"}, "runs revision rev2 already"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ro := simRollout(weightStep(5, time.Minute))
			ro.Annotations = map[string]string{trancheapi.AnnotationUndo: "u1 by bob"}
			ro.Status = promoted
			earlier := tc.earlier
			w := World{Now: now, Rollout: ro, Target: Workload{Revision: "rev2"}, Primary: &Workload{Revision: "rev2", Replicas: 3, Ready: true, ReadyReplicas: 3}}
			p := Decide(w)
			assert.True(t, p.Need.Earlier, "the planner asks what the primary kept")
			w.Earlier = &earlier
			p = Decide(w)
			assert.Equal(t, "u1 by bob", p.Status.HandledRequests.Undo)
			if tc.refusal == "" {
				assert.Equal(t, Action{Kind: RestorePrimary, Revision: "rev1"}, p.Action)
				assert.Equal(t, trancheapi.PhaseAborted, p.Status.Phase)
				assert.Equal(t, "rev1", p.Status.StableRevision)
				assert.Equal(t, "rev2", p.Status.CanaryRevision, "the target's revision stays undone")
				assert.Contains(t, p.Status.Message, "on request by bob")
				return
			}
			assert.Equal(t, NoAction, p.Action.Kind)
			assert.Equal(t, trancheapi.PhaseSucceeded, p.Status.Phase)
			assert.Equal(t, "rev2", p.Status.StableRevision)
			assert.Contains(t, p.Status.Message, tc.refusal)
			assert.Equal(t, "UndoRefused", p.Events[0].Reason)
		})
	}
}

func TestTheUndoSaysWhoAskedAsTheTokenTellsIt(t *testing.T) {
	for token, said := range map[string]string{
		"u1 by bob":           " by bob",
		"argocd-1795521600-2": " through Argo CD",
		"u1":                  "",
		"u1 by ":              "",
	} {
		assert.Equal(t, said, requester(token), token)
	}
}
