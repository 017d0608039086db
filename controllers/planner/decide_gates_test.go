package planner

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
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
