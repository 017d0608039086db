package planner

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
