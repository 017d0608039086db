package planner

import (
	"fmt"
	"slices"
	"strings"
	"time"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// A group is several Rollouts released as one (spec.group): a member's canary takes its first
// traffic only after the members it comes after, every member waits at the end of its steps
// until the other members under way have passed theirs (so that none is promoted while
// another can still fail), and a member that fails or is aborted rolls back every member
// whose rollout had begun before it ended. Each member decides for itself from the others'
// status: there is no object of the group's own, so each member's spec lives in its own file
// in Git and a group is as many Rollouts as name it.

// Member is what Decide knows of another Rollout of the group, from its status (and, for
// Pending, its target).
type Member struct {
	Name  string
	Phase trancheapi.Phase
	// Pending is true when its target has a revision it has not begun to roll out.
	Pending bool
	// PassedSteps counts the steps its rollout under way has passed, of Steps.
	PassedSteps, Steps int32
	// StepsPassed is true once all of them have: it waits to promote with the group.
	StepsPassed bool
	// EndedAt is when its last rollout ended; zero while one is under way.
	EndedAt time.Time
	Message string
	// After are the members it comes after.
	After []string
}

// MemberOf is what a member of a group tells the others: its status, and whether its target
// changed since it last looked (targetAhead), which makes a release pending too.
func MemberOf(ro *trancheapi.Rollout, targetAhead bool) Member {
	st := ro.Status
	underWay := st.Phase.UnderWay() || st.Phase == trancheapi.PhasePromoting
	failed := st.Phase == trancheapi.PhaseFailed || st.Phase == trancheapi.PhaseAborted
	rev := st.Target.Revision
	m := Member{
		Name: ro.Name, Phase: st.Phase, Message: st.Message,
		Steps: int32(len(ro.Spec.EffectiveSteps())), PassedSteps: st.CurrentStep, StepsPassed: st.StepsPassed,
		Pending: !underWay && (targetAhead || rev != "" && rev != st.StableRevision && !(failed && rev == st.CanaryRevision)),
	}
	if h := st.History; len(h) > 0 && h[0].EndedAt != nil {
		m.EndedAt = h[0].EndedAt.Time
	}
	if g := ro.Spec.Group; g != nil {
		for _, o := range g.After {
			m.After = append(m.After, o.Rollout)
		}
	}
	return m
}

// underWay reports whether the member has a release under way or about to begin.
func (m Member) underWay() bool {
	return m.Pending || m.Phase.UnderWay() || m.Phase == trancheapi.PhasePromoting
}

// groupFailed rolls this member's rollout back when another member failed or was aborted
// after it began; it reports whether it did.
func (d *decider) groupFailed() bool {
	g, started := d.w.Rollout.Spec.Group, d.rolloutStart()
	if g == nil || started.IsZero() {
		return false
	}
	for _, m := range d.w.Group {
		if (m.Phase == trancheapi.PhaseFailed || m.Phase == trancheapi.PhaseAborted) && !m.EndedAt.Before(started) {
			d.rollback(trancheapi.PhaseFailed, fmt.Sprintf("member %s of group %s ended %s (%s)", m.Name, g.Name, m.Phase, m.Message))
			return true
		}
	}
	return false
}

// rolloutStart is when the rollout under way began, to the microsecond (status.history);
// zero when no record says.
func (d *decider) rolloutStart() time.Time {
	if h := d.st.History; len(h) > 0 && h[0].EndedAt == nil && h[0].Revision == d.st.CanaryRevision {
		return h[0].StartedAt.Time
	}
	return time.Time{}
}

// groupLetsTrafficIn reports whether the members this one comes after have gone far enough
// for its canary's first traffic; otherwise it says which it waits for. A member it names
// that does not exist, or a cycle of members each after another, stalls the Rollout: no
// release of the group could ever go on.
func (d *decider) groupLetsTrafficIn() bool {
	g := d.w.Rollout.Spec.Group
	if g == nil {
		return true
	}
	if cycle := d.groupCycle(); cycle != "" {
		d.p.Stalled = &Problem{Reason: trancheapi.ReasonInvalidSpec, Message: fmt.Sprintf("The members of group %s come after each other in a circle (%s): none could ever take traffic; fix spec.group.after", g.Name, cycle)}
		return false
	}
	for _, order := range g.After {
		i := slices.IndexFunc(d.w.Group, func(m Member) bool { return m.Name == order.Rollout })
		if i < 0 {
			d.p.Stalled = &Problem{Reason: trancheapi.ReasonInvalidSpec, Recheck: maxRouteCheckDelay, Message: fmt.Sprintf(
				"spec.group.after names %s, which is no Rollout of group %s in this namespace: create it, or fix the name", order.Rollout, g.Name)}
			return false
		}
		m := d.w.Group[i]
		if !m.underWay() || m.StepsPassed {
			continue
		}
		need := m.Steps
		if order.Steps != nil {
			need = min(*order.Steps, m.Steps)
		}
		if m.Pending || m.PassedSteps < need {
			d.say(fmt.Sprintf("Waiting for %s (group %s) to pass %d of its %d steps before the canary takes traffic; it has passed %d",
				m.Name, g.Name, need, m.Steps, m.PassedSteps))
			return false
		}
	}
	return true
}

// groupPromotes reports whether every other member under way has passed its steps, so that
// the group promotes as one; otherwise it says which it waits for.
func (d *decider) groupPromotes() bool {
	g := d.w.Rollout.Spec.Group
	if g == nil {
		return true
	}
	var waiting []string
	for _, m := range d.w.Group {
		if m.underWay() && !m.StepsPassed && m.Phase != trancheapi.PhasePromoting {
			waiting = append(waiting, fmt.Sprintf("%s at step %d/%d", m.Name, min(m.PassedSteps+1, m.Steps), m.Steps))
		}
	}
	if len(waiting) == 0 {
		return true
	}
	d.say(fmt.Sprintf("All steps passed; waiting to promote with group %s: %s", g.Name, strings.Join(waiting, ", ")))
	return false
}

// groupCycle is a circle of members each after the next that this one is on ("a → b → a"),
// or "".
func (d *decider) groupCycle() string {
	after := map[string][]string{}
	for _, m := range d.w.Group {
		after[m.Name] = m.After
	}
	for _, o := range d.w.Rollout.Spec.Group.After {
		after[d.w.Rollout.Name] = append(after[d.w.Rollout.Name], o.Rollout)
	}
	self := d.w.Rollout.Name
	var path []string
	seen := map[string]bool{}
	var walk func(name string) bool
	walk = func(name string) bool {
		path = append(path, name)
		for _, next := range after[name] {
			if next == self {
				path = append(path, self)
				return true
			}
			if !seen[next] {
				seen[next] = true
				if walk(next) {
					return true
				}
			}
		}
		path = path[:len(path)-1]
		return false
	}
	if walk(self) {
		return strings.Join(path, " → ")
	}
	return ""
}
