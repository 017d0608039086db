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
