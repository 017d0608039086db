package v1alpha1_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

func TestEffectiveSteps(t *testing.T) {
	weights := func(steps []trancheapi.Step) []int32 {
		var w []int32
		for _, s := range steps {
			w = append(w, *s.Weight)
		}
		return w
	}
	canary := trancheapi.RolloutSpec{Provider: trancheapi.Provider{GatewayAPI: &trancheapi.GatewayAPIProvider{}}}
	assert.Equal(t, []int32{5, 50, 100}, weights(canary.EffectiveSteps()))

	blueGreen := trancheapi.RolloutSpec{Provider: trancheapi.Provider{Kubernetes: &trancheapi.KubernetesProvider{}}}
	assert.Equal(t, []int32{0, 100}, weights(blueGreen.EffectiveSteps()))

	seven := int32(7)
	explicit := trancheapi.RolloutSpec{Steps: []trancheapi.Step{{Weight: &seven}}, Provider: blueGreen.Provider}
	assert.Equal(t, []int32{7}, weights(explicit.EffectiveSteps()))
}

// The way back is walked highest first, whatever order the weights were written in, with
// no weight twice; by default it is the rollout's own weights between 0 and 100.
func TestRollbackWeights(t *testing.T) {
	weight := func(w int32) trancheapi.Step { return trancheapi.Step{Weight: &w} }
	ab := trancheapi.Step{Match: []trancheapi.HTTPMatch{{Headers: []trancheapi.StringMatch{{Name: "x-canary", Value: "1"}}}}}
	for _, tc := range []struct {
		name string
		spec trancheapi.RolloutSpec
		want []int32
	}{
		{"the default steps", trancheapi.RolloutSpec{}, []int32{50, 5}},
		{"the user's steps, 0, 100 and matches left out", trancheapi.RolloutSpec{Steps: []trancheapi.Step{weight(0), ab, weight(10), weight(30), weight(30), weight(100)}}, []int32{30, 10}},
		{"the rollback's own, in any order", trancheapi.RolloutSpec{Rollback: &trancheapi.Rollback{Pace: trancheapi.RollbackSteps, Weights: []int32{5, 75, 25}}}, []int32{75, 25, 5}},
		{"blue/green has none: back at once", trancheapi.RolloutSpec{Provider: trancheapi.Provider{Kubernetes: &trancheapi.KubernetesProvider{}}}, nil},
	} {
		assert.Equal(t, tc.want, tc.spec.RollbackWeights(), tc.name)
	}
}
