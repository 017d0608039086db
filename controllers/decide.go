package controllers

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

// decide picks the next action for a Rollout from what was observed. It is pure: the same
// world always gives the same plan.
func decide(w world) plan {
	d := &decider{w: w, st: *w.rollout.Status.DeepCopy()}
	d.run()
	d.st.Target = trancheapi.TargetStatus{Generation: w.target.generation, Revision: w.target.revision, DeclaredReplicas: w.declared}
	if w.autoscaler != nil {
		d.st.Target.DeclaredReplicas, d.st.Target.Autoscaler = 0, w.autoscaler.name
	}
	if seen := w.rollout.Status.Target; seen.Revision == w.target.revision && seen.Covers(w.target.generation, w.target.annotations) {
		// The generations since are Tranche's own scales: recording them would be a write
		// that says nothing new.
		d.st.Target.Generation = seen.Generation
	}
	if d.p.action.kind != actSetRoutes {
		d.st.RoutesSetAt = nil // the data plane says what was asked, or nothing is asked of it
	}
	d.p.status = d.st
	return d.p
}

// decider holds one decision in progress.
type decider struct {
	w  world
	st trancheapi.RolloutStatus // the status being decided
	p  plan
	// approvalToken is a promote request for the step waiting for approval, recorded as
	// handled only when the step moves on.
	approvalToken string
}

func (d *decider) run() {
	if d.w.primary == nil && d.st.StableRevision != "" && d.w.target.revision != d.st.StableRevision {
		// The stable version's template lived only in the primary: rebuilding the primary
		// from the target would make an untested revision stable.
		d.p.stalled = &problem{reason: "PrimaryLost", message: fmt.Sprintf(
			"the primary Deployment was deleted while the target runs revision %s, not the stable %s: "+
				"set the target back to the stable version (Tranche then rebuilds the primary from it), or delete and recreate the Rollout to adopt the new one",
			d.w.target.revision, d.st.StableRevision)}
		return
	}
	if d.w.primary == nil || d.st.Phase == "" || d.st.Phase == trancheapi.PhaseInitializing {
		d.initialize()
		return
	}
	if d.primaryOutOfStep() {
		return
	}
	if steps := d.w.rollout.Spec.EffectiveSteps(); int(d.st.CurrentStep) >= len(steps) {
		// The spec lost steps mid-rollout: carry on from its last.
		d.st.CurrentStep = int32(len(steps) - 1)
		d.st.StepStartedAt = nil
	}
	if d.handleRequests() {
		return
	}
	switch d.st.Phase {
	case trancheapi.PhaseProgressing, trancheapi.PhaseWaitingApproval, trancheapi.PhasePaused:
		d.progress()
	case trancheapi.PhasePromoting:
		d.promote()
	default: // Initialized, Succeeded, Failed, Aborted: idle
		d.idle()
	}
}

// initialize creates the primary from the target, waits until it is ready, routes all
// traffic to it and scales the target to zero.
func (d *decider) initialize() {
	d.st.Phase = trancheapi.PhaseInitializing
	switch {
	case d.w.primary == nil || !d.w.primary.ready:
		// The action and the wait after it say the same, so that the wait costs no write.
		d.say("Starting the primary Deployment from the target; waiting until it is ready")
		if d.w.primary == nil {
			d.p.action = action{kind: actCreatePrimary, replicas: d.firstPrimaryReplicas()}
		}
	case !d.routesAre(providers.Routes{}):
		d.say("Routing all traffic to the primary")
		d.setRoutes(providers.Routes{})
	default:
		d.st.Phase = trancheapi.PhaseInitialized
		d.st.StableRevision = d.w.primary.revision
		d.st.CanaryWeight = 0
		d.st.WaitingSince = nil
		d.say(fmt.Sprintf("Revision %s serves all traffic", d.st.StableRevision))
		d.emit(false, "Initialized", d.st.Message)
		d.scaleCanaryDown() // idle does it again if this fails
	}
}

// scaleCanaryDown scales the target to zero once the primary has served all traffic for
// spec.scaleDownDelay: a data plane that applies a route change late still sends the canary
// requests meanwhile. status.scaleDownAt, cleared when a rollout starts, keeps the time.
func (d *decider) scaleCanaryDown() {
	if d.w.target.replicas == 0 {
		return
	}
	if d.st.ScaleDownAt == nil {
		d.st.ScaleDownAt = &metav1.Time{Time: nextSecond(d.w.now.Add(d.w.rollout.Spec.EffectiveScaleDownDelay()))}
	}
	if wait := d.st.ScaleDownAt.Sub(d.w.now); wait > 0 {
		d.requeueIn(wait)
		return
	}
	d.p.action = action{kind: actScaleTarget, replicas: 0}
}

// idle keeps a finished rollout's world in place and starts the next one when the target
// has a new revision.
func (d *decider) idle() {
	rev := d.w.target.revision
	failed := d.st.Phase == trancheapi.PhaseFailed || d.st.Phase == trancheapi.PhaseAborted
	if rev != d.w.primary.revision && !(failed && rev == d.st.CanaryRevision) {
		d.start()
		return
	}
	switch {
	case !d.routesAre(providers.Routes{}):
		d.say("Routing all traffic back to the primary")
		d.setRoutes(providers.Routes{})
	default:
		d.scaleCanaryDown()
	}
}

// start begins the rollout of the target's revision, once the ConfirmRollout gate is open.
func (d *decider) start() {
	if !d.gateOpen(trancheapi.WebhookConfirmRollout) {
		return
	}
	rev := d.w.target.revision
	now := d.now()
	d.st.Phase = trancheapi.PhaseProgressing
	d.st.CanaryRevision = rev
	d.st.CurrentStep = 0
	d.st.CanaryWeight = 0
	d.st.FailedChecks = 0
	d.st.InconclusiveRuns = 0
	d.st.LastChecks = nil
	d.st.RolloutStartedAt = now
	d.st.StepStartedAt = nil
	d.st.LastAnalysisAt = nil
	d.st.WaitingSince = now
	d.st.ScaleDownAt = nil
	d.recordStart()
	d.say(canaryWaitMessage(rev))
	d.emit(false, "RolloutStarted", fmt.Sprintf("Rolling out revision %s (stable: %s)", rev, d.w.primary.revision))
	d.p.action = action{kind: actScaleTarget, replicas: d.canaryReplicas()}
	if d.w.target.configured && d.w.target.replicas > 0 {
		// Pods that are up read the configuration they started with: new ones are made
		// (canaryServes scales the canary up again) so that the canary runs the new one.
		d.p.action.replicas = 0
	}
	// Look again at once: a target that is up already (a retry right after an abort, before
	// it was scaled down) changes no more, so no event would come.
	d.requeueIn(time.Millisecond)
}

// rollback sends all traffic back to the primary and ends the rollout as Failed or Aborted.
// The canary is scaled down after the scale-down delay (by idle, once the routes are back).
func (d *decider) rollback(phase trancheapi.Phase, why string) {
	d.st.Phase = phase
	d.recordStep()
	d.st.StepStartedAt = nil
	d.st.WaitingSince = nil
	d.say(fmt.Sprintf("Rolled back revision %s: %s", d.st.CanaryRevision, why))
	d.emit(true, "RolledBack", d.st.Message)
	d.end(phase)
	d.p.hooks = append(d.p.hooks, trancheapi.WebhookRollback)
	d.st.CanaryWeight = 0
	if !d.routesAre(providers.Routes{}) {
		d.st.RoutesSetAt = nil // a new ask, whatever became of the last
		d.setRoutes(providers.Routes{})
		return
	}
	d.scaleCanaryDown()
}

// promote copies the canary to the primary, waits until the primary is ready, routes all
// traffic to it and scales the canary down.
func (d *decider) promote() {
	switch {
	case d.w.primary.revision != d.st.CanaryRevision && d.w.target.revision != d.st.CanaryRevision:
		// The target moved on before its template was copied: the tested revision is gone.
		d.restart()
	case d.w.primary.revision != d.st.CanaryRevision || !d.w.primary.ready:
		// The action and the wait after it say the same, so that the wait costs no write.
		d.say(fmt.Sprintf("Promoting revision %s: updating the primary and waiting until it is ready", d.st.CanaryRevision))
		if d.w.primary.revision != d.st.CanaryRevision {
			d.p.action = action{kind: actUpdatePrimary}
		}
	case !d.routesAre(providers.Routes{}):
		d.say(fmt.Sprintf("Promoting revision %s: routing all traffic to the primary", d.st.CanaryRevision))
		d.setRoutes(providers.Routes{})
	default:
		d.st.Phase = trancheapi.PhaseSucceeded
		d.st.StableRevision = d.st.CanaryRevision
		d.st.StepStartedAt = nil
		d.st.WaitingSince = nil
		d.say(fmt.Sprintf("Promoted revision %s", d.st.StableRevision))
		d.emit(false, "Promoted", d.st.Message)
		d.end(trancheapi.PhaseSucceeded)
		d.p.hooks = append(d.p.hooks, trancheapi.WebhookPostRollout)
		d.scaleCanaryDown() // idle does it again if this fails
	}
}

// gateOpen reports whether every webhook of a gate type said yes, asking the reconciler
// when they have not been asked yet. A closed gate waits, and rolls back once the
// progress deadline passes while the rollout is under way.
func (d *decider) gateOpen(gate trancheapi.WebhookType) bool {
	if !d.w.rollout.Spec.HasWebhook(gate) {
		return true
	}
	answer, asked := d.w.gates[gate]
	if !asked {
		d.p.need = need{gate: gate}
		return false
	}
	if answer.open {
		return true
	}
	d.wait(fmt.Sprintf("Gate %s is closed: %s", gate, answer.message), d.w.rollout.Spec.EffectiveInterval())
	return false
}

// wait records that the rollout waits for something outside it and rolls back when the
// progress deadline passes (only once a rollout is under way: there is nothing to roll back
// before it starts).
func (d *decider) wait(message string, recheck time.Duration) {
	if d.st.WaitingSince == nil {
		d.st.WaitingSince = d.now()
	}
	deadline := d.st.WaitingSince.Add(d.w.rollout.Spec.EffectiveProgressDeadline())
	if d.w.now.After(deadline) && d.st.Phase.UnderWay() {
		d.rollback(trancheapi.PhaseFailed, fmt.Sprintf("%s for longer than the progress deadline", lowerFirst(message)))
		return
	}
	d.say(message)
	if d.st.Phase.UnderWay() {
		recheck = min(recheck, deadline.Sub(d.w.now)+time.Millisecond) // wake for the rollback
	}
	d.requeueIn(recheck)
}

func (d *decider) say(message string) { d.st.Message = message }

// end records that the rollout ended in phase, for the duration metric and in the history.
func (d *decider) end(phase trancheapi.Phase) {
	d.recordEnd(trancheapi.RolloutOutcome(phase))
	d.p.ended = phase
	if d.st.RolloutStartedAt != nil {
		d.p.took = d.w.now.Sub(d.st.RolloutStartedAt.Time)
	}
}

func (d *decider) emit(warning bool, reason, message string) {
	d.p.events = append(d.p.events, event{warning: warning, reason: reason, message: message})
}

// requeueIn asks to be reconciled again after dt, keeping the earliest of several asks.
func (d *decider) requeueIn(dt time.Duration) {
	if dt <= 0 {
		dt = time.Millisecond
	}
	if d.p.requeue == 0 || dt < d.p.requeue {
		d.p.requeue = dt
	}
}

// nextMillisecond is t rounded up to a whole millisecond: the resolution of Prometheus, so
// that the parts of a step's counts, timed from the step's start, fall on times it answers
// for, and rounded up so that no hold is shorter than asked.
func nextMillisecond(t time.Time) time.Time {
	if r := t.Truncate(time.Millisecond); !r.Equal(t) {
		return r.Add(time.Millisecond)
	}
	return t
}

// nextSecond is t rounded up to a whole second.
func nextSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

func (d *decider) now() *metav1.Time {
	t := metav1.NewTime(d.w.now)
	return &t
}

// exactNow is now as status keeps the times a hold and its analysis runs are timed from:
// status keeps microseconds (observe rounds now to a millisecond), so what it shows is what
// the decisions used, after a restart as well.
func (d *decider) exactNow() *metav1.MicroTime {
	t := metav1.NewMicroTime(d.w.now)
	return &t
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
