package planner

import "fmt"

// Who sets which replica count: the target's owner declares one (World.Declared), or an
// autoscaler holds it within its bounds (World.Autoscaler); never both.

// firstPrimaryReplicas is the count the primary is created with: the target's, within its
// autoscaler's bounds, or the count its owner declared.
func (d *decider) firstPrimaryReplicas() int32 {
	n := max(d.w.Target.Replicas, 1)
	switch {
	case d.w.Autoscaler != nil:
		return d.w.Autoscaler.Clamp(n)
	case d.w.Declared > 0:
		return d.w.Declared
	}
	return n
}

// canaryReplicas is the count the canary is scaled up to for a rollout: the primary's, within
// the autoscaler's bounds (the autoscaler then takes over), or the count the owner declared.
func (d *decider) canaryReplicas() int32 {
	switch {
	case d.w.Autoscaler != nil:
		return d.w.Autoscaler.Clamp(d.w.Primary.Replicas)
	case d.w.Declared > 0:
		return d.w.Declared
	}
	return d.w.Primary.Replicas
}

// primaryOutOfStep scales the primary to the count the target's owner declared, when no
// autoscaler scales it: the owner's edit in Git (or kubectl scale) lands on the target, which
// is not what serves. It changes nothing of the rollout, which goes on at the next reconcile
// (the primary's own change starts it).
func (d *decider) primaryOutOfStep() bool {
	if d.w.Autoscaler != nil || d.w.Declared == 0 || d.w.Primary.Replicas == d.w.Declared {
		return false
	}
	d.p.Action = Action{Kind: ScalePrimary, Replicas: d.w.Declared}
	return true
}

// replicasFor is the ready replicas a version needs for share percent of the traffic: that
// share of the replicas that carried all of it when the rollout began, at least one, and no
// more than it can have (its autoscaler's maximum; without one, the count it runs at).
func (d *decider) replicasFor(share, runsAt int32) int32 {
	need := max(1, (share*d.st.StableReplicas+99)/100)
	if a := d.w.Autoscaler; a != nil {
		return min(need, a.Max)
	}
	return min(need, max(1, runsAt))
}

// canaryHasRoomFor reports whether the canary has the ready replicas for weight percent of
// the traffic. An autoscaler that shrank it while it had a smaller share (or a person) leaves
// it short: it is scaled up to the count, within its autoscaler's bounds, and the step waits
// for them, rolling back at the progress deadline.
func (d *decider) canaryHasRoomFor(weight int32) bool {
	need := d.replicasFor(weight, d.w.Target.Replicas)
	if d.w.Target.readyReplicas() >= need {
		return true
	}
	if d.w.Target.Replicas < need {
		d.p.Action = Action{Kind: ScaleTarget, Replicas: need}
	}
	d.wait(fmt.Sprintf("Step %d/%d waits for the canary's replicas: %d%% of traffic needs %d ready, it has %d",
		d.st.CurrentStep+1, len(d.w.Rollout.Spec.EffectiveSteps()), weight, need, d.w.Target.readyReplicas()),
		d.w.Rollout.Spec.EffectiveProgressDeadline())
	return false
}
