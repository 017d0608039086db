package planner

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// TestClosedConfirmRolloutGateWaitsAsLongAsItIsClosed: a ConfirmRollout gate that says no
// holds a new revision back for as long as it does, past the progress deadline too (nothing
// is under way to roll back), asking again once an analysis interval; the rollout starts at
// the first yes.
func TestClosedConfirmRolloutGateWaitsAsLongAsItIsClosed(t *testing.T) {
	ro := simRollout(weightStep(5, time.Minute), weightStep(100, 30*time.Second))
	ro.Spec.Analysis.Webhooks = []trancheapi.Webhook{{Name: "window", Type: trancheapi.WebhookConfirmRollout, URL: "http://window.test/"}}
	opens := 20 * time.Minute // the progress deadline is 5 minutes
	w := newSim(ro)
	w.script = []scripted{at(time.Minute, func(w *simWorld) { w.release("rev2") })}
	var asked []time.Duration
	var started time.Duration
	w.gate = func(kind trancheapi.WebhookType, now time.Duration) bool {
		asked = append(asked, now)
		return kind == trancheapi.WebhookConfirmRollout && now >= opens
	}
	w.onDecide = func(w *simWorld) {
		if started == 0 && w.ro.Status.Phase == trancheapi.PhaseProgressing {
			started = w.t
		}
	}
	out := w.run(t, 30*time.Minute)

	require.NotEmpty(t, asked, out)
	assert.Equal(t, time.Minute, asked[0], "asked when the revision arrived")
	interval := ro.Spec.EffectiveInterval()
	for i := 1; i < len(asked); i++ {
		require.GreaterOrEqual(t, asked[i]-asked[i-1], interval, "asked again at %s, %s after the last time:\n%s", asked[i], asked[i]-asked[i-1], out)
	}
	assert.GreaterOrEqual(t, started, opens, "started while the gate was closed:\n%s", out)
	assert.Less(t, started, opens+interval, "started late:\n%s", out)
	assert.Equal(t, trancheapi.PhaseSucceeded, w.ro.Status.Phase, out)
}

// TestTheFirstTrafficWaitsForItsGatesWhileTheDataPlaneIsSilent: the canary's first traffic
// waits for the members of its group it comes after, and for its PreRollout webhooks, even
// when the data plane has not yet said it took the routes that send everything to the
// primary (a rollout that begins right after a rollback, say): which traffic is the first
// is what the routes say, not what the data plane has confirmed.
func TestTheFirstTrafficWaitsForItsGatesWhileTheDataPlaneIsSilent(t *testing.T) {
	now := simStart.Add(time.Hour)
	pending := traffic.Acceptance{State: traffic.Pending, Parent: "Gateway gateways/public"}
	begun := trancheapi.RolloutStatus{Phase: trancheapi.PhaseProgressing, StableRevision: "rev1", CanaryRevision: "rev2",
		RolloutStartedAt: ptr.To(metav1.NewTime(now.Add(-5 * time.Second))), WaitingSince: ptr.To(metav1.NewTime(now.Add(-5 * time.Second)))}
	world := func(configure func(*trancheapi.Rollout)) World {
		ro := simRollout(weightStep(5, time.Minute), weightStep(50, time.Minute), weightStep(100, time.Minute))
		ro.Status = begun
		configure(ro)
		return World{Now: now, Rollout: ro, Target: Workload{Revision: "rev2", Replicas: 3, ReadyReplicas: 3, Ready: true},
			Primary: &Workload{Revision: "rev1", Replicas: 3, ReadyReplicas: 3, Ready: true}, Acceptance: pending}
	}
	one := int32(1)
	inGroup := world(func(ro *trancheapi.Rollout) {
		ro.Spec.Group = &trancheapi.Group{Name: "checkout", After: []trancheapi.GroupOrder{{Rollout: "pay", Steps: &one}}}
	})
	inGroup.Group = []Member{{Name: "pay", Phase: trancheapi.PhaseProgressing, Steps: 3}}
	p := Decide(inGroup)
	assert.NotEqual(t, SetRoutes, p.Action.Kind, "the canary took traffic before pay passed its first step: %+v", p.Action)
	assert.Zero(t, p.Status.CanaryWeight)
	assert.Contains(t, p.Status.Message, "Waiting for pay")

	withWebhook := world(func(ro *trancheapi.Rollout) {
		ro.Spec.Analysis.Webhooks = []trancheapi.Webhook{{Name: "smoke", Type: trancheapi.WebhookPreRollout, URL: "http://smoke.test/"}}
	})
	p = Decide(withWebhook)
	assert.NotEqual(t, SetRoutes, p.Action.Kind, "the canary took traffic before its PreRollout webhook was asked: %+v", p.Action)
	assert.Equal(t, trancheapi.WebhookPreRollout, p.Need.Gate, "the webhook is asked first")
}
