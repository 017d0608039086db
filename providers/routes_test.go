package providers_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tranche-dev/tranche/providers"
)

func TestCanaryPercent(t *testing.T) {
	for _, tc := range []struct {
		primary, canary, want int32
		err                   bool
	}{
		{100, 0, 0, false},
		{95, 5, 5, false},
		{0, 100, 100, false},
		{3, 1, 25, false},  // weights a person wrote need not add up to 100
		{0, 7, 100, false}, // a lone canary takes everything
		{2, 1, 33, false},  // rounded to the nearest percent
		{1, 2, 67, false},
		{0, 0, 0, true}, // nowhere to send requests
		{-1, 1, 0, true},
	} {
		got, err := providers.CanaryPercent(tc.primary, tc.canary)
		if tc.err {
			assert.Error(t, err, "%d/%d", tc.primary, tc.canary)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "%d/%d", tc.primary, tc.canary)
	}
}

func TestSplitReadsBack(t *testing.T) {
	for w := int32(0); w <= 100; w++ {
		primary, canary := providers.Split(w)
		assert.Equal(t, int32(100), primary+canary)
		got, err := providers.CanaryPercent(primary, canary)
		require.NoError(t, err)
		assert.Equal(t, w, got)
	}
}

func TestValidate(t *testing.T) {
	assert.NoError(t, providers.Routes{}.Validate())
	assert.NoError(t, providers.Routes{CanaryWeight: 100, MirrorPercent: 100}.Validate())
	assert.Error(t, providers.Routes{CanaryWeight: 101}.Validate())
	assert.Error(t, providers.Routes{CanaryWeight: -1}.Validate())
	assert.Error(t, providers.Routes{MirrorPercent: 101}.Validate())
}
