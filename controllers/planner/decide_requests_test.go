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
