package providers_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

func TestQueryOfAnUnknownMetric(t *testing.T) {
	_, err := providers.LinkerdProxy.Queries().Query("request-rate")
	require.ErrorIs(t, err, providers.ErrUnsupported)
	assert.ErrorContains(t, err, `built-in metric "request-rate" is not one this provider knows (it knows request-duration, request-success-rate, traffic-share)`)

	_, err = providers.Queries(nil).Query(trancheapi.BuiltinRequestSuccessRate)
	require.ErrorIs(t, err, providers.ErrUnsupported)
	assert.ErrorContains(t, err, "exports no request metrics; use templateRef with a MetricTemplate")
}

func TestEitherJoinsTheFamiliesOfAMetric(t *testing.T) {
	a := providers.Queries{trancheapi.BuiltinRequestSuccessRate: "a_success", trancheapi.BuiltinRequestDuration: "a_duration"}
	b := providers.Queries{trancheapi.BuiltinRequestSuccessRate: "b_success"}
	assert.Equal(t, providers.Queries{trancheapi.BuiltinRequestSuccessRate: "a_success\nor\nb_success"}, providers.Either(a, b))
}
