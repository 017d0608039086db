package controllers

// Who sets which replica count: the target's owner declares one (world.declared), or an
// autoscaler holds it within its bounds (world.autoscaler); never both.

// firstPrimaryReplicas is the count the primary is created with: the target's, within its
// autoscaler's bounds, or the count its owner declared.
func (d *decider) firstPrimaryReplicas() int32 {
	n := max(d.w.target.replicas, 1)
	switch {
	case d.w.autoscaler != nil:
		return d.w.autoscaler.clamp(n)
	case d.w.declared > 0:
		return d.w.declared
	}
	return n
}

// canaryReplicas is the count the canary is scaled up to for a rollout: the primary's, within
// the autoscaler's bounds (the autoscaler then takes over), or the count the owner declared.
func (d *decider) canaryReplicas() int32 {
	switch {
	case d.w.autoscaler != nil:
		return d.w.autoscaler.clamp(d.w.primary.replicas)
	case d.w.declared > 0:
		return d.w.declared
	}
	return d.w.primary.replicas
}

// primaryOutOfStep scales the primary to the count the target's owner declared, when no
// autoscaler scales it: the owner's edit in Git (or kubectl scale) lands on the target, which
// is not what serves. It changes nothing of the rollout, which goes on at the next reconcile
// (the primary's own change starts it).
func (d *decider) primaryOutOfStep() bool {
	if d.w.autoscaler != nil || d.w.declared == 0 || d.w.primary.replicas == d.w.declared {
		return false
	}
	d.p.action = action{kind: actScalePrimary, replicas: d.w.declared}
	return true
}
