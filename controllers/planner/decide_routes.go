package planner

import (
	"fmt"
	"time"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/traffic"
)

const (
	// routeCheckDelay is how soon a reconcile that changed the routes looks again, to read
	// back what the data plane was told and start the step's hold.
	routeCheckDelay = 200 * time.Millisecond
	// maxRouteCheckDelay is the longest wait between asks while the data plane has not said
	// the split back: each wait is as long as the asking has lasted, up to this.
	maxRouteCheckDelay = 10 * time.Second
)

// routesAre reports whether the data plane is known to split traffic as r says: the routing
// objects say it, and the data plane took them (or is one that says nothing either way).
func (d *decider) routesAre(r traffic.Routes) bool {
	return d.routesSay(r) && d.w.Acceptance.Taken()
}

// routesSay reports whether the routing objects hold r, whatever the data plane made of them.
func (d *decider) routesSay(r traffic.Routes) bool {
	return !d.w.RoutesUnknown && d.w.Routes.Equal(r)
}

// setRoutes asks for a new split; the step's hold restarts once the split is read back.
// Asking again while the data plane has not said it back is cheap (Routers write only what
// differs), but the asks space out, and a data plane that does not take the split within the
// progress deadline rolls a rollout under way back; then setRoutes reports false.
func (d *decider) setRoutes(r traffic.Routes) bool {
	if d.routesSay(r) && d.w.Acceptance.State == traffic.Refused {
		return d.refused(r)
	}
	d.p.Action = Action{Kind: SetRoutes, Routes: r}
	d.st.CanaryWeight = r.CanaryWeight
	d.st.StepStartedAt = nil
	if d.st.RoutesSetAt == nil {
		d.st.RoutesSetAt = d.now()
		d.st.WaitingSince = nil // the rollout moved: whatever it waited for is over
	}
	asking := d.w.Now.Sub(d.st.RoutesSetAt.Time)
	if asking > d.w.Rollout.Spec.EffectiveProgressDeadline() && d.st.Phase.UnderWay() {
		d.rollback(trancheapi.PhaseFailed, fmt.Sprintf("the data plane did not take the split (%s) within the progress deadline: it says %s",
			describeRoutes(r), d.saidRoutes()))
		return false
	}
	d.p.Requeue = min(max(routeCheckDelay, asking), maxRouteCheckDelay)
	return true
}

// refused answers a data plane that refused the routes r, which the routing objects hold. A
// split that gives the canary traffic is a failed step: the rollout rolls back to the routes
// the data plane took before it began, all traffic to the primary. Those refused too are not
// the split's fault (a listener that does not allow the route, a hostname no listener has):
// the Rollout stalls with the parent's words until its user fixes what the data plane refuses,
// and Tranche looks again meanwhile, since a route's status is not watched. It reports false:
// the routes asked for are not set.
func (d *decider) refused(r traffic.Routes) bool {
	if !isPrimaryOnly(r) && d.st.Phase.UnderWay() {
		d.rollback(trancheapi.PhaseFailed, fmt.Sprintf("the data plane refused the split (%s): %s", describeRoutes(r), d.w.Acceptance))
		return false
	}
	d.p.Stalled = &Problem{Reason: trancheapi.ReasonRoutesRefused, Recheck: maxRouteCheckDelay,
		Message: fmt.Sprintf("The data plane refused the routes (%s): %s", describeRoutes(r), d.w.Acceptance)}
	return false
}

// saidRoutes describes what the data plane says now.
func (d *decider) saidRoutes() string {
	switch {
	case d.w.RoutesUnknown:
		return "something that is not a split"
	case !d.w.Acceptance.Taken():
		return fmt.Sprintf("%s, but %s", describeRoutes(d.w.Routes), d.w.Acceptance)
	}
	return describeRoutes(d.w.Routes)
}

// RoutesFor is the split a step asks for. Session affinity goes with the steps that split
// by weight: at 100% every client is on the canary already.
func RoutesFor(spec *trancheapi.RolloutSpec, step trancheapi.Step) traffic.Routes {
	r := traffic.Routes{Match: step.Match}
	if step.Weight != nil {
		r.CanaryWeight = *step.Weight
	}
	if step.Mirror != nil {
		r.MirrorPercent = *step.Mirror
	}
	if a := spec.SessionAffinity; a != nil && r.CanaryWeight > 0 && r.CanaryWeight < 100 {
		r.Sticky = &traffic.Sticky{Cookie: a.EffectiveCookieName(), MaxAge: a.EffectiveMaxAge().Truncate(time.Second)}
	}
	return r
}

func isPrimaryOnly(r traffic.Routes) bool { return r.Equal(traffic.Routes{}) }

func sendsMoreToCanary(from, to traffic.Routes) bool {
	return to.CanaryWeight > from.CanaryWeight || to.MirrorPercent > from.MirrorPercent ||
		(len(to.Match) > 0 && !from.Equal(to))
}

func describeRoutes(r traffic.Routes) string {
	switch {
	case len(r.Match) > 0:
		return fmt.Sprintf("matching requests (%d rules) go to the canary", len(r.Match))
	case r.MirrorPercent > 0:
		return fmt.Sprintf("%d%% of requests mirrored to the canary, weight %d%%", r.MirrorPercent, r.CanaryWeight)
	}
	if r.Sticky != nil {
		return fmt.Sprintf("weight %d%%, clients that reach the canary stay on it", r.CanaryWeight)
	}
	return fmt.Sprintf("weight %d%%", r.CanaryWeight)
}
