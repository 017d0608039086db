package controllers

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// A Compare test still undecided when a step's hold ends, on a real Prometheus: a canary as
// good as the primary, at 1% for three seconds, serves about 60 requests, fewer than the rate
// test needs to say either way, and the metric's compare.undecided policy decides. Pass goes
// on through the steps, Fail rolls the canary back, Extend holds the step past its hold while
// the test is undecided.
func TestCompareUndecidedAtTheEndOfTheHold(t *testing.T) {
	const hold = 3 * time.Second
	scenario := func(t *testing.T, policy trancheapi.UndecidedPolicy) *engineEnv {
		t.Parallel()
		ns := cp.Namespace(t)
		createCompareTemplate(t, ns)
		ro := engineCompareRollout(ns, hold)
		ro.Spec.Steps = ro.Spec.Steps[1:]
		ro.Spec.Steps[0].Weight = ptr.To[int32](1)
		ro.Spec.Analysis.Metrics[0].Compare = &trancheapi.CompareSpec{Undecided: policy}
		e := startScenario(t, prom, exporter, ro)
		e.release(goodImage2)
		return e
	}

	t.Run("Pass", func(t *testing.T) {
		e := scenario(t, trancheapi.UndecidedPass)
		ro := e.waitForPhase(trancheapi.PhaseSucceeded, 2*time.Minute)
		assert.Equal(t, []int32{0, 1, 100, 0}, e.weights.list(), "every step, each passed undecided")
		assert.Zero(t, ro.Status.FailedChecks)
	})

	t.Run("Fail", func(t *testing.T) {
		e := scenario(t, trancheapi.UndecidedFail)
		ro := e.waitForPhase(trancheapi.PhaseFailed, time.Minute)
		assert.Contains(t, ro.Status.Message, "errors was undecided when step 1's hold of 3s ended")
		e.waitForWeight(0, 10*time.Second)
		assert.Equal(t, []int32{0, 1, 0}, e.weights.list(), "rolled back from the first step")
	})

	t.Run("Extend", func(t *testing.T) {
		e := scenario(t, trancheapi.UndecidedExtend)
		e.waitForWeight(1, time.Minute)
		first := time.Now()
		var extended *trancheapi.Rollout
		for deadline := first.Add(hold + 20*time.Second); time.Now().Before(deadline) && extended == nil; time.Sleep(100 * time.Millisecond) {
			ro := e.get()
			if ro.Status.CurrentStep != 0 || ro.Status.Phase != trancheapi.PhaseProgressing {
				break
			}
			if time.Since(first) > hold+time.Second && strings.Contains(ro.Status.Message, "the hold is extended to") {
				extended = ro
			}
		}
		if assert.NotNil(t, extended, "the first step held past its hold of %s, saying so; last: %+v; weights seen %v", hold, e.get().Status, e.weights.list()) {
			t.Log(extended.Status.Message)
		}
	})
}
