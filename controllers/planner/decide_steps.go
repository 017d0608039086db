package planner

import (
	"fmt"
	"strings"
	"time"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// progress walks the steps: canary ready, routes set, hold with analysis, next step.
func (d *decider) progress() {
	steps := d.w.Rollout.Spec.EffectiveSteps()
	if d.w.Target.Revision != d.st.CanaryRevision {
		d.restart()
		return
	}
	if d.groupFailed() {
		return
	}
	for {
		if !d.canaryServes() {
			return
		}
		step := steps[d.st.CurrentStep]
		want := RoutesFor(&d.w.Rollout.Spec, step)
		if !d.routesAre(want) {
			d.changeRoutes(want)
			return
		}
		d.st.RoutesSetAt = nil // the data plane says the step's routes
		if !d.hold(step) {
			return
		}
		if d.st.StepsPassed {
			d.finishSteps() // passed before, and waiting for a gate or the group since
			return
		}
		if d.st.StepStartedAt != nil {
			d.p.Passed = append(d.p.Passed, PassedStep{Index: d.st.CurrentStep, Held: max(0, d.w.Now.Sub(d.st.StepStartedAt.Time))})
		}
		d.recordStep()
		for _, c := range d.undecided() {
			d.emit(false, "AnalysisUndecided", fmt.Sprintf("Step %d/%d passed with %s undecided: %s",
				d.st.CurrentStep+1, len(steps), c.Metric, c.Message))
		}
		if int(d.st.CurrentStep)+1 >= len(steps) {
			d.finishSteps()
			return
		}
		// The next step starts at once, in this same decision.
		d.st.CurrentStep++
		d.st.Phase = trancheapi.PhaseProgressing
		d.st.StepStartedAt = nil
		d.emit(false, "StepCompleted", fmt.Sprintf("Step %d/%d passed", d.st.CurrentStep, len(steps)))
	}
}

// restart begins again from the first step when a newer revision arrives mid-rollout,
// after taking traffic off the revision being replaced.
func (d *decider) restart() {
	if !d.routesAre(traffic.Routes{}) {
		d.say(fmt.Sprintf("Revision %s replaces %s mid-rollout: routing all traffic to the primary first",
			d.w.Target.Revision, d.st.CanaryRevision))
		d.setRoutes(traffic.Routes{})
		return
	}
	d.emit(false, "RolloutRestarted", fmt.Sprintf("Revision %s replaces %s: starting again from the first step",
		d.w.Target.Revision, d.st.CanaryRevision))
	d.start()
}

// canaryServes reports whether the canary is up and ready. A canary that is not ready gets
// no traffic, and rolls back once the progress deadline passes.
func (d *decider) canaryServes() bool {
	switch {
	case d.w.Target.Replicas == 0:
		d.say("Scaling the canary up")
		d.p.Action = Action{Kind: ScaleTarget, Replicas: d.canaryReplicas()}
		return false
	case !d.w.Target.Ready && !d.canaryCarriesItsShare():
		if !d.routesAre(traffic.Routes{}) {
			d.setRoutes(traffic.Routes{})
			d.say("The canary is not ready: routing all traffic to the primary")
			return false
		}
		d.wait(canaryWaitMessage(d.st.CanaryRevision), d.w.Rollout.Spec.EffectiveProgressDeadline())
		return false
	}
	return true
}

// canaryCarriesItsShare reports whether a canary that is not all ready has the ready replicas
// for the share it has now: one being scaled up for its next step is not pulled out.
func (d *decider) canaryCarriesItsShare() bool {
	weight := d.w.Routes.CanaryWeight
	return weight > 0 && d.w.Target.ReadyReplicas >= d.replicasFor(weight, d.w.Target.Replicas)
}

// canaryWaitMessage is said from the start of a rollout until its canary is ready: the same
// words before and after the scale-up, so that the wait costs no status write.
func canaryWaitMessage(revision string) string {
	return fmt.Sprintf("Waiting for the canary (revision %s) to be ready", revision)
}

// changeRoutes moves to the current step's routes; more traffic for the canary waits for the
// ConfirmTrafficIncrease gate, and the very first traffic for the PreRollout webhooks.
func (d *decider) changeRoutes(want traffic.Routes) {
	if d.firstTraffic() && (!d.groupLetsTrafficIn() || !d.preRolloutPassed()) {
		return
	}
	if sendsMoreToCanary(d.w.Routes, want) && !d.gateOpen(trancheapi.WebhookConfirmTrafficIncrease) {
		return
	}
	if want.CanaryWeight > d.w.Routes.CanaryWeight && !d.canaryHasRoomFor(want.CanaryWeight) {
		return
	}
	if !d.setRoutes(want) {
		return // rolled back: the data plane never took the split
	}
	message := fmt.Sprintf("Step %d/%d: %s", d.st.CurrentStep+1, len(d.w.Rollout.Spec.EffectiveSteps()), describeRoutes(want))
	if d.w.Now.Sub(d.st.RoutesSetAt.Time) >= dataPlaneQuiet {
		message += fmt.Sprintf("; the data plane still says %s", d.saidRoutes())
	}
	d.say(message)
}

// dataPlaneQuiet is how long the data plane may take a split before the status says it has
// not yet: data planes take one in milliseconds to a second or two, and saying so sooner would
// cost a status write a step that commits no decision.
const dataPlaneQuiet = 5 * time.Second

// firstTraffic reports whether the routes about to be set are the first of this rollout to
// send the canary any traffic: no earlier step did, and the routes send it none now. What
// the routes say counts, whether or not the data plane has said it took them yet: routes to
// the primary alone that it has not confirmed (just after a rollback, say) are not traffic
// the canary was let in to.
func (d *decider) firstTraffic() bool {
	if !d.routesSay(traffic.Routes{}) {
		return false
	}
	for _, step := range d.w.Rollout.Spec.EffectiveSteps()[:d.st.CurrentStep] {
		if !isPrimaryOnly(RoutesFor(&d.w.Rollout.Spec, step)) {
			return false
		}
	}
	return true
}

// preRolloutPassed asks the PreRollout webhooks once; a no rolls the canary back.
func (d *decider) preRolloutPassed() bool {
	if !d.w.Rollout.Spec.HasWebhook(trancheapi.WebhookPreRollout) {
		return true
	}
	answer, asked := d.w.Gates[trancheapi.WebhookPreRollout]
	switch {
	case !asked:
		d.p.Need = Need{Gate: trancheapi.WebhookPreRollout}
		return false
	case !answer.Open:
		d.rollback(trancheapi.PhaseFailed, "pre-rollout webhook said no: "+answer.Message)
		return false
	}
	return true
}

// hold runs the analysis while the step holds; it returns true once the step has held for
// its hold with the latest analysis run passing.
func (d *decider) hold(step trancheapi.Step) bool {
	if d.st.StepStartedAt == nil {
		d.st.StepStartedAt = d.exactNow()
	}
	if due := d.analysisDue(); !due.IsZero() {
		if !d.w.Now.Before(due) {
			if d.w.Analysis == nil {
				d.p.Need = Need{Analysis: true}
				return false
			}
			if d.recordAnalysis(*d.w.Analysis) {
				return false // rolled back
			}
		}
		d.requeueIn(d.analysisDue().Sub(d.w.Now))
	}
	hold := d.w.Rollout.Spec.EffectiveHold(step)
	held := max(0, d.w.Now.Sub(d.st.StepStartedAt.Time))
	steps := len(d.w.Rollout.Spec.EffectiveSteps())
	d.say(fmt.Sprintf("Step %d/%d: %s, held %s of %s%s", d.st.CurrentStep+1, steps,
		describeRoutes(RoutesFor(&d.w.Rollout.Spec, step)), held.Round(time.Second), hold, d.lastRunSummary()))
	if held < hold && !d.endsHoldEarly() {
		d.requeueIn(d.st.StepStartedAt.Add(hold).Sub(d.w.Now))
		return false
	}
	if paused := d.lackingData(trancheapi.InsufficientPause); len(paused) > 0 && !d.approve() {
		var names []string
		for _, c := range paused {
			names = append(names, c.Metric)
		}
		d.waitForApproval(fmt.Sprintf("Step %d waits for a person: not enough data to judge %s; kubectl tranche promote %s -n %s goes on, abort rolls back",
			d.st.CurrentStep+1, strings.Join(names, ", "), d.w.Rollout.Name, d.w.Rollout.Namespace))
		return false
	}
	if waiting := d.lackingData(trancheapi.InsufficientWait); len(waiting) > 0 {
		// Waiting for data is waiting for something outside the rollout: it ends at the
		// progress deadline, or a canary that never gets traffic would hold for ever.
		var lacks []string
		for _, c := range waiting {
			lacks = append(lacks, c.Metric+" ("+c.Message+")")
		}
		d.wait(fmt.Sprintf("Step %d/%d has held its %s and lacks the data to judge %s", d.st.CurrentStep+1, steps, hold,
			strings.Join(lacks, ", ")), d.w.Rollout.Spec.EffectiveInterval())
		return false
	}
	if !d.lastRunPassed() {
		return false // the next analysis run, already scheduled, decides
	}
	if !d.settleUndecided(hold) {
		return false
	}
	if step.Approval == trancheapi.ApprovalManual && !d.approve() {
		d.waitForApproval(fmt.Sprintf("Step %d waits for approval: kubectl tranche promote %s -n %s",
			d.st.CurrentStep+1, d.w.Rollout.Name, d.w.Rollout.Namespace))
		return false
	}
	return true
}

// settleUndecided applies the compare.undecided policy of each Compare test still undecided
// when the hold is over. It returns true when the step may pass: every policy is Pass, or an
// Extend's extension is over. Fail rolls back.
func (d *decider) settleUndecided(hold time.Duration) bool {
	undecided := d.undecided()
	if len(undecided) == 0 {
		return true
	}
	policy := map[string]trancheapi.UndecidedPolicy{}
	for _, m := range d.w.Rollout.Spec.Analysis.Metrics {
		policy[m.Name] = m.EffectiveCompare().Undecided
	}
	start := d.st.StepStartedAt.Time
	var extendTo time.Time
	for _, c := range undecided {
		switch policy[c.Metric] {
		case trancheapi.UndecidedFail:
			d.rollback(trancheapi.PhaseFailed, fmt.Sprintf("%s was undecided when step %d's hold of %s ended: %s",
				c.Metric, d.st.CurrentStep+1, hold, c.Message))
			return false
		case trancheapi.UndecidedExtend:
			// For as long as the judge says a verdict takes; without an estimate, as long
			// as the progress deadline lets it.
			limit := start.Add(hold + d.w.Rollout.Spec.EffectiveProgressDeadline())
			until := limit
			if c.Needs != nil && start.Add(c.Needs.Duration).Before(limit) {
				until = start.Add(c.Needs.Duration)
			}
			if until.After(extendTo) {
				extendTo = until
			}
		}
	}
	if !d.w.Now.Before(extendTo) {
		return true
	}
	d.say(fmt.Sprintf("%s; the hold is extended to %s while the Compare test is undecided", d.st.Message,
		extendTo.Sub(start).Round(time.Second)))
	d.requeueIn(extendTo.Sub(d.w.Now))
	return false
}

// waitForApproval holds the rollout until a person promotes it.
func (d *decider) waitForApproval(message string) {
	d.say(message)
	if d.st.Phase != trancheapi.PhaseWaitingApproval {
		d.emit(false, "WaitingApproval", d.st.Message)
	}
	d.st.Phase = trancheapi.PhaseWaitingApproval
}

// finishSteps starts the promotion once the group promotes and the ConfirmPromotion gate is
// open.
func (d *decider) finishSteps() {
	d.st.StepsPassed = true
	if !d.groupPromotes() || !d.gateOpen(trancheapi.WebhookConfirmPromotion) {
		return
	}
	d.st.Phase = trancheapi.PhasePromoting
	d.st.WaitingSince = nil
	d.emit(false, "Promoting", fmt.Sprintf("All steps passed: promoting revision %s", d.st.CanaryRevision))
	d.promote()
}
