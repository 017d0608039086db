package planner

import (
	"strings"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// keptRollouts is how many rollouts status.history keeps.
const keptRollouts = 10

// The history of rollouts in status is what replay re-judges: when each step held, and how
// each rollout ended. It is written only with decisions status records anyway (a rollout
// starts, a step passes, a rollout ends), so it costs no write of its own.

// recordStart opens the record of the rollout that starts now, closing the one it replaces.
func (d *decider) recordStart() {
	d.recordEnd(trancheapi.OutcomeReplaced)
	history := append([]trancheapi.RolloutRecord{{Revision: d.st.CanaryRevision, StartedAt: *d.exactNow()}}, d.st.History...)
	d.st.History = history[:min(len(history), keptRollouts)]
}

// current is the record of the rollout under way; nil when none is open.
func (d *decider) current() *trancheapi.RolloutRecord {
	if len(d.st.History) == 0 || d.st.History[0].EndedAt != nil {
		return nil
	}
	d.st.History = append([]trancheapi.RolloutRecord{}, d.st.History...) // the world's status stays as observed
	d.st.History[0].Steps = append([]trancheapi.StepRecord{}, d.st.History[0].Steps...)
	return &d.st.History[0]
}

// recordStep adds the window of the step that holds now (it passed, or the rollout ends in
// it) to the current record.
func (d *decider) recordStep() {
	r := d.current()
	if r == nil || d.st.StepStartedAt == nil || !d.w.Now.After(d.st.StepStartedAt.Time) {
		return
	}
	r.Steps = append(r.Steps, trancheapi.StepRecord{
		Step: d.st.CurrentStep, Weight: d.w.Routes.CanaryWeight, StartedAt: *d.st.StepStartedAt, EndedAt: *d.exactNow(),
	})
}

// recordEnd closes the current record with its outcome and the status message.
func (d *decider) recordEnd(outcome trancheapi.RolloutOutcome) {
	r := d.current()
	if r == nil {
		return
	}
	r.EndedAt, r.Outcome = d.exactNow(), outcome
	if outcome != trancheapi.OutcomeReplaced {
		r.Message = truncate(d.st.Message, 1024)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n-len("…")], "") + "…"
}
