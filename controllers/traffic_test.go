package controllers

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/tranche-dev/tranche/analysis"
	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

func TestTheTrafficCheckHoldsTheShareToTheStepsWeight(t *testing.T) {
	ab := trancheapi.Step{Match: []trancheapi.HTTPMatch{{Headers: []trancheapi.StringMatch{{Name: "x-canary", Value: "always"}}}}}
	mirror := trancheapi.Step{Weight: ptr.To[int32](0), Mirror: ptr.To[int32](50)}
	rollout := func(step int32, tolerance int32, sticky bool, steps ...trancheapi.Step) *trancheapi.Rollout {
		ro := stepsRollout(steps...)
		ro.Spec.Analysis = &trancheapi.Analysis{VerifyTraffic: &trancheapi.VerifyTraffic{Tolerance: tolerance}}
		if sticky {
			ro.Spec.SessionAffinity = &trancheapi.SessionAffinity{}
		}
		ro.Status.CurrentStep = step
		return ro
	}
	hold := time.Minute
	for _, tc := range []struct {
		name      string
		ro        *trancheapi.Rollout
		low, high *float64 // nil high: no upper bound; both nil: no check
	}{
		{"within the default tolerance of 50%", rollout(1, 0, false, weightFor(5, hold), weightFor(50, hold)), ptr.To(45.0), ptr.To(55.0)},
		{"at 5% with the default tolerance a canary given nothing still fails", rollout(0, 0, false, weightFor(5, hold)), ptr.To(leastShare), ptr.To(10.0)},
		{"a tolerance of 2 at 5%", rollout(0, 2, false, weightFor(5, hold)), ptr.To(3.0), ptr.To(7.0)},
		{"all of it at 100%: no upper bound", rollout(0, 5, false, weightFor(100, hold)), ptr.To(95.0), nil},
		{"a tolerance that reaches 100%: no upper bound", rollout(1, 10, false, weightFor(5, hold), weightFor(90, hold)), ptr.To(80.0), nil},
		{"none of it at 0%", rollout(0, 5, false, weightFor(0, hold)), ptr.To(0.0), ptr.To(5.0)},
		{"kept clients add to the share: no upper bound", rollout(0, 5, true, weightFor(20, hold)), ptr.To(15.0), nil},
		{"an A/B step has no share to check", rollout(0, 5, false, ab), nil, nil},
		{"a mirror step has no share to check", rollout(0, 5, false, mirror), nil, nil},
		{"a step past the spec's is its last", rollout(4, 5, false, weightFor(5, hold), weightFor(50, hold)), ptr.To(45.0), ptr.To(55.0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, ok := trafficCheck(tc.ro)
			if tc.low == nil {
				assert.False(t, ok)
				return
			}
			assert.True(t, ok)
			assert.Equal(t, trafficCheckName, m.Name)
			assert.Equal(t, trancheapi.BuiltinTrafficShare, m.Builtin)
			assert.Equal(t, tc.low, m.Min)
			assert.Equal(t, tc.high, m.Max)
		})
	}
	_, ok := trafficCheck(stepsRollout(weightFor(5, hold)))
	assert.False(t, ok, "no check unless the Rollout asks for it")

	// All of the traffic, as the query divides it (100 * canary / (canary + primary), the
	// primary at 0): a hair above 100 in floating point, and a pass.
	canary := 82.95192607647267
	share := 100 * canary / (canary + 0)
	assert.Greater(t, share, 100.0, "the division rounds up here")
	m, _ := trafficCheck(rollout(0, 5, false, weightFor(100, hold)))
	assert.Equal(t, trancheapi.VerdictPass, analysis.Threshold(share, m.Min, m.Max))
}

// stepsRollout is a Rollout with these steps and nothing else the traffic check reads.
func stepsRollout(steps ...trancheapi.Step) *trancheapi.Rollout {
	return &trancheapi.Rollout{Spec: trancheapi.RolloutSpec{Steps: steps}}
}

// weightFor is a step that sends the canary w percent and holds for hold.
func weightFor(w int32, hold time.Duration) trancheapi.Step {
	return trancheapi.Step{Weight: ptr.To(w), Hold: &metav1.Duration{Duration: hold}}
}
