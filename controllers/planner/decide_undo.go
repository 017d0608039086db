package planner

import (
	"fmt"
	"strings"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// An undo is for an incident after a promotion: the new version is live and bad, and the one
// before it must serve again now, without walking the steps. The primary's Deployment keeps
// the templates it ran (its ReplicaSets); the one before the current goes back on the
// primary, which rolls to it as any Deployment rolls, and the target's revision is undone
// (Aborted) until the target changes or a retry is asked for.

// Earlier is the revision the primary ran before its current one, as the reconciler found it
// among the primary's ReplicaSets when Decide asked for it (Need.Earlier).
type Earlier struct {
	// Kept is false when the primary keeps no earlier template; Why then says why.
	Kept bool
	Why  string
	// Revision is the revision that template ran, "" when the template does not say (one
	// promoted by a Tranche that did not write it down).
	Revision string
	// Configured is true when that revision covered ConfigMaps or Secrets, whose data of then
	// a later promotion overwrote in the primary's copies.
	Configured bool
}

// undoRequest puts the primary's earlier revision back, or says why it cannot.
func (d *decider) undoRequest() bool {
	token := newRequest(d.w.Rollout, trancheapi.AnnotationUndo, d.st.HandledRequests.Undo)
	if token == "" {
		return false
	}
	underWay := d.st.Phase.UnderWay() || d.st.Phase == trancheapi.PhasePromoting
	if d.w.Earlier == nil && !underWay {
		d.p.Need.Earlier = true
		return true
	}
	d.st.HandledRequests.Undo = token
	if why := d.cannotUndo(underWay); why != "" {
		// Said in the status too, for the plugin that asked: an idle rollout says nothing
		// else until it changes; one under way goes on and says its own.
		d.say("Undo refused: " + why)
		d.emit(true, "UndoRefused", d.st.Message)
		return false
	}
	undone, back := d.w.Primary.Revision, d.w.Earlier.Revision
	d.p.Action = Action{Kind: RestorePrimary, Revision: back}
	d.st.Phase = trancheapi.PhaseAborted
	d.st.StableRevision = back
	d.st.CanaryRevision = d.w.Target.Revision
	d.st.CanaryWeight = 0
	d.st.StepStartedAt, d.st.WaitingSince = nil, nil
	d.say(fmt.Sprintf("Undone revision %s on request%s: revision %s serves all traffic again. Revision %s is not rolled out again until the target changes or a retry is requested",
		undone, requester(token), back, d.w.Target.Revision))
	d.emit(true, "Undone", d.st.Message)
	d.p.Hooks = append(d.p.Hooks, trancheapi.WebhookRollback)
	return true
}

// cannotUndo says why the earlier revision cannot go back on the primary, "" when it can.
func (d *decider) cannotUndo(underWay bool) string {
	e := d.w.Earlier
	switch {
	case underWay:
		return "a rollout is under way: abort it (kubectl tranche abort) to send all traffic back to the primary"
	case !e.Kept:
		return e.Why
	case e.Revision == "":
		return "the primary's earlier template does not say which revision it ran (it was promoted by an earlier Tranche): set the target back to it in Git instead"
	case e.Configured:
		return fmt.Sprintf("revision %s read ConfigMaps or Secrets whose data of then is no longer kept (a promotion overwrote the primary's copies): set the target back to it in Git instead", e.Revision)
	case e.Revision == d.w.Primary.Revision:
		return fmt.Sprintf("the primary runs revision %s already", e.Revision)
	}
	return ""
}

// requester is who asked, as the token says, for the status and the event: " by <name>"
// for the plugin's tokens (" by <name>" at their end), " through Argo CD" for an Argo CD
// action's (argocd-<second>-<n>: Argo CD's Lua is not told the user, and Argo CD's own event
// on the Application names them), or "".
func requester(token string) string {
	if _, who, ok := strings.Cut(token, " by "); ok && who != "" {
		return " by " + who
	}
	if strings.HasPrefix(token, "argocd-") {
		return " through Argo CD"
	}
	return ""
}
