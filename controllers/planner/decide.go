package planner

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// Decide picks the next action for a Rollout from what was observed. It is pure: the same
// world always gives the same plan.
func Decide(w World) Plan {
	d := &decider{w: w, st: *w.Rollout.Status.DeepCopy()}
	d.run()
	d.st.Target = trancheapi.TargetStatus{Generation: w.Target.Generation, Revision: w.Target.Revision, DeclaredReplicas: w.Declared}
	if w.Autoscaler != nil {
		d.st.Target.DeclaredReplicas, d.st.Target.Autoscaler = 0, w.Autoscaler.Name
	}
	if seen := w.Rollout.Status.Target; seen.Revision == w.Target.Revision && seen.Covers(w.Target.Generation, w.Target.Annotations) {
		// The generations since are Tranche's own scales: recording them would be a write
		// that says nothing new.
		d.st.Target.Generation = seen.Generation
	}
	if d.p.Action.Kind != SetRoutes {
		d.st.RoutesSetAt = nil // the data plane says what was asked, or nothing is asked of it
	}
	d.p.Status = d.st
	return d.p
}

// decider holds one decision in progress.
type decider struct {
	w  World
	st trancheapi.RolloutStatus // the status being decided
	p  Plan
	// approvalToken is a promote request for the step waiting for approval, recorded as
	// handled only when the step moves on.
	approvalToken string
}

func (d *decider) run() {
	if d.w.Primary == nil && d.st.StableRevision != "" && d.w.Target.Revision != d.st.StableRevision {
		// The stable version's template lived only in the primary: rebuilding the primary
		// from the target would make an untested revision stable.
		d.p.Stalled = &Problem{Reason: "PrimaryLost", Message: fmt.Sprintf(
			"the primary Deployment was deleted while the target runs revision %s, not the stable %s: "+
				"set the target back to the stable version (Tranche then rebuilds the primary from it), or delete and recreate the Rollout to adopt the new one",
			d.w.Target.Revision, d.st.StableRevision)}
		return
	}
	if d.w.Primary == nil || d.st.Phase == "" || d.st.Phase == trancheapi.PhaseInitializing {
		d.initialize()
		return
	}
	if d.primaryOutOfStep() {
		return
	}
	if steps := d.w.Rollout.Spec.EffectiveSteps(); int(d.st.CurrentStep) >= len(steps) {
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
	case d.w.Primary == nil || !d.w.Primary.Ready:
		// The action and the wait after it say the same, so that the wait costs no write.
		d.say("Starting the primary Deployment from the target; waiting until it is ready")
		if d.w.Primary == nil {
			d.p.Action = Action{Kind: CreatePrimary, Replicas: d.firstPrimaryReplicas()}
		}
	case !d.routesAre(traffic.Routes{}):
		d.say("Routing all traffic to the primary")
		d.setRoutes(traffic.Routes{})
	default:
		d.st.Phase = trancheapi.PhaseInitialized
		d.st.StableRevision = d.w.Primary.Revision
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
	if d.w.Target.Replicas == 0 {
		return
	}
	if d.st.ScaleDownAt == nil {
		d.st.ScaleDownAt = &metav1.Time{Time: nextSecond(d.w.Now.Add(d.w.Rollout.Spec.EffectiveScaleDownDelay()))}
	}
	if wait := d.st.ScaleDownAt.Sub(d.w.Now); wait > 0 {
		d.requeueIn(wait)
		return
	}
	// An autoscaler about to write the count it wants would write it over the zero (see
	// Autoscaling.Settled): wait until it has, for at most the progress deadline. Its status
	// comes by watch; the recheck is for one that never writes it.
	deadline := d.st.ScaleDownAt.Add(d.w.Rollout.Spec.EffectiveProgressDeadline())
	if a := d.w.Autoscaler; a != nil && !a.Settled && d.w.Now.Before(deadline) {
		d.requeueIn(min(autoscalerRecheck, deadline.Sub(d.w.Now)))
		return
	}
	d.p.Action = Action{Kind: ScaleTarget, Replicas: 0}
}

// autoscalerRecheck is how often an autoscaler that is not settled is looked at again.
const autoscalerRecheck = 5 * time.Second

// idle keeps a finished rollout's world in place and starts the next one when the target
// has a new revision.
func (d *decider) idle() {
	rev := d.w.Target.Revision
	failed := d.st.Phase == trancheapi.PhaseFailed || d.st.Phase == trancheapi.PhaseAborted
	if rev != d.w.Primary.Revision && !(failed && rev == d.st.CanaryRevision) {
		d.start()
		return
	}
	switch {
	case !d.routesAre(traffic.Routes{}) && failed && d.rampsBack():
		d.rampBack()
	case !d.routesAre(traffic.Routes{}):
		// A rolled-back rollout's message keeps why, for a status or a kubectl tranche
		// abort read meanwhile.
		if failed {
			d.say(d.rollbackReason() + ". Routing all traffic back to the primary")
		} else {
			d.say("Routing all traffic back to the primary")
		}
		d.setRoutes(traffic.Routes{})
	default:
		d.st.PrimaryMinReplicas = 0
		d.scaleCanaryDown()
	}
}

// start begins the rollout of the target's revision, once the ConfirmRollout gate is open.
func (d *decider) start() {
	if !d.gateOpen(trancheapi.WebhookConfirmRollout) {
		return
	}
	rev := d.w.Target.Revision
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
	d.st.StepsPassed = false
	d.st.StableReplicas = d.w.Primary.Replicas
	d.st.PrimaryMinReplicas = 0
	d.recordStart()
	d.say(canaryWaitMessage(rev))
	d.emit(false, "RolloutStarted", fmt.Sprintf("Rolling out revision %s (stable: %s)", rev, d.w.Primary.Revision))
	d.p.Action = Action{Kind: ScaleTarget, Replicas: d.canaryReplicas()}
	if d.w.Target.Configured && d.w.Target.Replicas > 0 {
		// Pods that are up read the configuration they started with: new ones are made
		// (canaryServes scales the canary up again) so that the canary runs the new one.
		d.p.Action.Replicas = 0
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
	d.p.Hooks = append(d.p.Hooks, trancheapi.WebhookRollback)
	if !d.routesAre(traffic.Routes{}) {
		d.st.RoutesSetAt = nil // a new ask, whatever became of the last
		d.st.CanaryWeight = d.w.Routes.CanaryWeight
		d.beginRampBack()
		d.handBack()
		return
	}
	d.st.CanaryWeight = 0
	d.scaleCanaryDown()
}

// promote copies the canary to the primary, waits until the primary is ready, routes all
// traffic to it and scales the canary down.
func (d *decider) promote() {
	switch {
	case d.w.Primary.Revision != d.st.CanaryRevision && d.w.Target.Revision != d.st.CanaryRevision:
		// The target moved on before its template was copied: the tested revision is gone.
		d.restart()
	case d.w.Primary.Revision != d.st.CanaryRevision || !d.w.Primary.Ready:
		// The action and the wait after it say the same, so that the wait costs no write.
		d.say(fmt.Sprintf("Promoting revision %s: updating the primary and waiting until it is ready", d.st.CanaryRevision))
		if d.w.Primary.Revision != d.st.CanaryRevision {
			d.p.Action = Action{Kind: UpdatePrimary}
		}
	case !d.routesAre(traffic.Routes{}):
		d.say(fmt.Sprintf("Promoting revision %s: routing all traffic to the primary", d.st.CanaryRevision))
		d.setRoutes(traffic.Routes{})
	default:
		d.st.Phase = trancheapi.PhaseSucceeded
		d.st.StableRevision = d.st.CanaryRevision
		d.st.StepStartedAt = nil
		d.st.WaitingSince = nil
		d.say(fmt.Sprintf("Promoted revision %s", d.st.StableRevision))
		d.emit(false, "Promoted", d.st.Message)
		d.end(trancheapi.PhaseSucceeded)
		d.p.Hooks = append(d.p.Hooks, trancheapi.WebhookPostRollout)
		d.scaleCanaryDown() // idle does it again if this fails
	}
}

// gateOpen reports whether every webhook of a gate type said yes, asking the reconciler
// when they have not been asked yet. A closed gate waits, and rolls back once the
// progress deadline passes while the rollout is under way.
func (d *decider) gateOpen(gate trancheapi.WebhookType) bool {
	if !d.w.Rollout.Spec.HasWebhook(gate) {
		return true
	}
	answer, asked := d.w.Gates[gate]
	if !asked {
		d.p.Need = Need{Gate: gate}
		return false
	}
	if answer.Open {
		return true
	}
	d.wait(fmt.Sprintf("Gate %s is closed: %s", gate, answer.Message), d.w.Rollout.Spec.EffectiveInterval())
	return false
}

// wait records that the rollout waits for something outside it and rolls back when the
// progress deadline passes (only once a rollout is under way: there is nothing to roll back
// before it starts).
func (d *decider) wait(message string, recheck time.Duration) {
	if d.st.WaitingSince == nil {
		d.st.WaitingSince = d.now()
	}
	deadline := d.st.WaitingSince.Add(d.w.Rollout.Spec.EffectiveProgressDeadline())
	if d.w.Now.After(deadline) && d.st.Phase.UnderWay() {
		d.rollback(trancheapi.PhaseFailed, fmt.Sprintf("%s for longer than the progress deadline", lowerFirst(message)))
		return
	}
	d.say(message)
	if d.st.Phase.UnderWay() {
		recheck = min(recheck, deadline.Sub(d.w.Now)+time.Millisecond) // wake for the rollback
	}
	d.requeueIn(recheck)
}

func (d *decider) say(message string) { d.st.Message = message }

// end records that the rollout ended in phase, for the duration metric and in the history.
func (d *decider) end(phase trancheapi.Phase) {
	d.st.StepsPassed = false
	d.recordEnd(trancheapi.RolloutOutcome(phase))
	d.p.Ended = phase
	if d.st.RolloutStartedAt != nil {
		d.p.Took = d.w.Now.Sub(d.st.RolloutStartedAt.Time)
	}
}

func (d *decider) emit(warning bool, reason, message string) {
	d.p.Events = append(d.p.Events, Event{Warning: warning, Reason: reason, Message: message})
}

// requeueIn asks to be reconciled again after dt, keeping the earliest of several asks.
func (d *decider) requeueIn(dt time.Duration) {
	if dt <= 0 {
		dt = time.Millisecond
	}
	if d.p.Requeue == 0 || dt < d.p.Requeue {
		d.p.Requeue = dt
	}
}

// NextMillisecond is t rounded up to a whole millisecond: the resolution of Prometheus, so
// that the parts of a step's counts, timed from the step's start, fall on times it answers
// for, and rounded up so that no hold is shorter than asked.
func NextMillisecond(t time.Time) time.Time {
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
	t := metav1.NewTime(d.w.Now)
	return &t
}

// exactNow is now as status keeps the times a hold and its analysis runs are timed from:
// status keeps microseconds (observe rounds now to a millisecond), so what it shows is what
// the decisions used, after a restart as well.
func (d *decider) exactNow() *metav1.MicroTime {
	t := metav1.NewMicroTime(d.w.Now)
	return &t
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
