package planner

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// The way back after a failed or aborted rollout: all traffic to the primary at once, or, with
// spec.rollback.pace Steps, down through the rollback's weights. Each weight on the way down
// is held for rollback.hold once the data plane took it, and the primary takes each larger
// share only once it has the ready replicas for it: a primary an autoscaler shrank while the
// canary carried part of the load, or one that is cold, is not handed the whole load at once.

// handBack sends the canary's traffic back to the primary, from the weight the data plane
// is told now.
func (d *decider) handBack() {
	if !d.rampsBack() {
		d.st.PrimaryMinReplicas = 0
		d.setRoutes(traffic.Routes{})
		return
	}
	d.rampBack()
}

// rampsBack reports whether the traffic goes back in steps: the Rollout asks for it, the
// canary still serves its share meanwhile, and the split is one by weight alone. Anything
// else (a canary that is not ready, routes that match or mirror, routes no one can read)
// goes back at once.
func (d *decider) rampsBack() bool {
	r := d.w.Routes
	return d.w.Rollout.Spec.PacedRollback() && d.w.Target.Ready && !d.w.RoutesUnknown &&
		len(r.Match) == 0 && r.MirrorPercent == 0 && d.st.CanaryWeight > 0
}

// rampBack holds the weight on the way down that the status says was asked for, then moves
// to the next once the primary has room for its share.
func (d *decider) rampBack() {
	weight := d.st.CanaryWeight
	want := traffic.Routes{CanaryWeight: weight}
	if !d.routesAre(want) {
		d.setRoutes(want) // asked and not yet taken, or changed by hand: ask (again)
		d.sayBack(fmt.Sprintf("%d%% of traffic on the canary", weight))
		return
	}
	d.st.RoutesSetAt = nil
	if d.st.StepStartedAt == nil {
		d.st.StepStartedAt = d.exactNow()
	}
	hold := d.w.Rollout.Spec.EffectiveRollbackHold()
	held := d.w.Now.Sub(d.st.StepStartedAt.Time)
	if held < hold {
		d.sayBack(fmt.Sprintf("%d%% of traffic on the canary", weight))
		d.requeueIn(hold - held)
		return
	}
	next := d.nextWeightBack(weight)
	if !d.primaryHasRoomFor(100-next, held-hold) || !d.primaryPasses(held-hold) {
		return
	}
	d.st.StepStartedAt = nil
	d.setRoutes(traffic.Routes{CanaryWeight: next})
	if next == 0 {
		d.say(d.rollbackReason()) // the way back ends here
		return
	}
	d.sayBack(fmt.Sprintf("%d%% of traffic on the canary", next))
}

// beginRampBack counts the weight a rollback begins at as held already: the first move back
// waits only for the primary's room.
func (d *decider) beginRampBack() {
	if d.w.Rollout.Spec.PacedRollback() {
		begun := metav1.NewMicroTime(d.w.Now.Add(-d.w.Rollout.Spec.EffectiveRollbackHold()))
		d.st.StepStartedAt = &begun
	}
}

// nextWeightBack is the highest weight on the way down below weight, or 0.
func (d *decider) nextWeightBack(weight int32) int32 {
	for _, w := range d.w.Rollout.Spec.RollbackWeights() {
		if w < weight {
			return w
		}
	}
	return 0
}

// primaryHasRoomFor reports whether the primary has the ready replicas for share percent of
// the traffic (see replicasFor; without an autoscaler the primary runs at the count its owner
// declares). When it has not, the primary is given them (an autoscaler's floor is
// raised, as the autoscaler scales the primary) and the rollback waits, for at most the
// progress deadline from the end of the hold: after that, everything goes back at once,
// with a warning.
func (d *decider) primaryHasRoomFor(share int32, waited time.Duration) bool {
	need := d.replicasFor(share, d.w.Primary.Replicas)
	if d.w.Primary.readyReplicas() >= need {
		return true
	}
	if waited > d.w.Rollout.Spec.EffectiveProgressDeadline() {
		d.hurryBack(fmt.Sprintf("The primary did not have %d ready replicas for %d%% of traffic within the progress deadline (it has %d)",
			need, share, d.w.Primary.readyReplicas()))
		return false
	}
	d.sayBack(fmt.Sprintf("%d%% of traffic on the canary until the primary has %d ready replicas for %d%% (it has %d)",
		d.st.CanaryWeight, need, share, d.w.Primary.readyReplicas()))
	d.requeueIn(d.w.Rollout.Spec.EffectiveProgressDeadline() - waited + time.Millisecond)
	if d.w.Autoscaler != nil && d.st.PrimaryMinReplicas < need {
		// The reconciler gives the primary's autoscaler the floor from the status it reads
		// next, at once.
		d.st.PrimaryMinReplicas = need
		d.requeueIn(time.Millisecond)
	}
	return false
}

// primaryPasses reports whether the primary passes the Rollout's threshold metrics, measured
// on it, before it takes a larger share: a primary that fails them under the share it has
// (cold, or short of something the canary's share hid) is not given more. The way back holds
// meanwhile, asking again each analysis interval, for at most the progress deadline from
// the end of the hold. A metric with no data for the primary holds nothing back.
func (d *decider) primaryPasses(waited time.Duration) bool {
	if !d.watchesThePrimary() {
		return true
	}
	if d.w.PrimaryAnalysis == nil {
		d.p.Need.PrimaryAnalysis = true
		return false
	}
	var failing []string
	for _, c := range d.w.PrimaryAnalysis.Checks {
		if c.Verdict == trancheapi.VerdictFail && !c.DryRun {
			failing = append(failing, describeCheck(c))
		}
	}
	if len(failing) == 0 {
		return true
	}
	if waited > d.w.Rollout.Spec.EffectiveProgressDeadline() {
		d.hurryBack(fmt.Sprintf("The primary still failed %s when the progress deadline passed", strings.Join(failing, ", ")))
		return false
	}
	d.sayBack(fmt.Sprintf("%d%% of traffic on the canary while the primary fails %s", d.st.CanaryWeight, strings.Join(failing, ", ")))
	d.requeueIn(d.w.Rollout.Spec.EffectiveInterval())
	return false
}

// watchesThePrimary reports whether the Rollout has threshold metrics to measure the primary
// with (Compare metrics set the canary beside the primary, and say nothing of it alone).
func (d *decider) watchesThePrimary() bool {
	a := d.w.Rollout.Spec.Analysis
	if a == nil || a.DryRun {
		return false
	}
	for _, m := range a.Metrics {
		if m.Judge != trancheapi.JudgeCompare && !m.DryRun {
			return true
		}
	}
	return false
}

// hurryBack ends a way back that waited for the primary longer than the progress deadline:
// all traffic goes to the primary now, with a warning saying why.
func (d *decider) hurryBack(why string) {
	d.emit(true, "RollbackHurried", why+": all traffic goes back to it now")
	d.st.PrimaryMinReplicas = 0
	d.setRoutes(traffic.Routes{})
}

// sayBack says how far the traffic is on its way back, after why the rollout was rolled back
// (the status message's first sentence, kept).
func (d *decider) sayBack(where string) {
	d.say(fmt.Sprintf("%s. Handing traffic back to the primary: %s", d.rollbackReason(), where))
}

// rollbackReason is what the rollout's record says it ended with: why it was rolled back.
func (d *decider) rollbackReason() string {
	if h := d.st.History; len(h) > 0 && h[0].Revision == d.st.CanaryRevision && h[0].Message != "" {
		return h[0].Message
	}
	return fmt.Sprintf("Rolled back revision %s", d.st.CanaryRevision)
}
